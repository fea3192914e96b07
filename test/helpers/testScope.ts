import { activateTrigger } from './n8nEngine';
import type { ActiveTrigger, NodeUnderTest } from './n8nEngine';

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

	/** Activates a trigger in n8n-core's engine; it is deactivated at the end of the test. */
	activate = async (subject: NodeUnderTest): Promise<ActiveTrigger> => this.track(await activateTrigger(subject));

	/**
	 * A test file's `activate(...)`: its own arguments (parameters, credentials…) made into a subject
	 * by `subjectFor`, then activated and tracked by `activate`, the one way every file activates.
	 */
	activator =
		<Args extends unknown[]>(subjectFor: (...args: Args) => NodeUnderTest) =>
		async (...args: Args): Promise<ActiveTrigger> =>
			await this.activate(subjectFor(...args));

	async end(): Promise<void> {
		this.timers.splice(0).forEach(clearTimeout);
		await Promise.all(this.triggers.splice(0).map(async (trigger) => await trigger.deactivate().catch(() => undefined)));
	}
}
