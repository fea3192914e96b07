import type { ActiveTrigger } from './n8nEngine';

/**
 * What a test starts and must end before the next one: timers that move an emulator while n8n
 * waits, and activated triggers. `end()` (in afterEach) clears and deactivates them all, so no
 * timer fires into a closed emulator and no trigger outlives its test.
 */
export class TestScope {
	private readonly timers: NodeJS.Timeout[] = [];
	private readonly triggers: ActiveTrigger[] = [];

	later = (ms: number, action: () => void): void => {
		this.timers.push(setTimeout(action, ms));
	};

	track = <T extends ActiveTrigger>(trigger: T): T => {
		this.triggers.push(trigger);
		return trigger;
	};

	async end(): Promise<void> {
		this.timers.splice(0).forEach(clearTimeout);
		await Promise.all(this.triggers.splice(0).map(async (trigger) => await trigger.deactivate().catch(() => undefined)));
	}
}
