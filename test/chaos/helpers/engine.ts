/** Following a trigger run in n8n's engine (test/helpers/n8nEngine.ts) with a ledger. */
import type { IncomingMessage } from 'node:http';

import type { IDataObject } from 'n8n-workflow';

import type { ActiveTrigger } from '../../helpers/n8nEngine';
import { restQuiet, until } from './chaos';
import type { TransitionDriver } from './driver';
import type { Ledger } from './ledger';

/** How many of each trigger's items a ledger has already taken. */
const taken = new WeakMap<ActiveTrigger, number>();

/** Feeds the trigger's items emitted since the last call into the ledger (`keyOf`: the transition an item stands for). */
export function follow(trigger: ActiveTrigger, ledger: Ledger, keyOf: (item: IDataObject) => string): () => void {
	return () => {
		const items = trigger.items();
		let next = taken.get(trigger) ?? 0;
		for (; next < items.length; next++) ledger.deliver(String(items[next].id), keyOf(items[next]));
		taken.set(trigger, next);
	};
}

/** Waits until everything produced outside a disruption, and every id's latest transition, was delivered. */
export async function settle(trigger: ActiveTrigger, ledger: Ledger, keyOf: (item: IDataObject) => string, timeoutMs = 10_000): Promise<boolean> {
	const sync = follow(trigger, ledger, keyOf);
	return await until(() => {
		sync();
		return ledger.settled() && ledger.caughtUp();
	}, timeoutMs);
}

/** The emulator as the engine scenarios see it (every service's emulator is one). */
export interface EngineEmulator {
	stats: { connectionsAccepted: number; restRequests: number };
	onUpgradeRequest: ((request: IncomingMessage) => void) | undefined;
	onRestRequest: ((request: IncomingMessage) => void) | undefined;
	openConnectionCount(): number;
	sendRawToAll(text: string): void;
}

/**
 * A trigger active in n8n's engine with the driver that makes its emulator produce transitions and
 * the ledger that accounts for them. `settled` stays true only while every settle so far was met.
 */
export class FollowedTrigger {
	settled = true;

	constructor(
		readonly trigger: ActiveTrigger,
		readonly emulator: EngineEmulator,
		readonly driver: TransitionDriver,
		private readonly keyOf: (item: IDataObject) => string,
	) {}

	get ledger(): Ledger {
		return this.driver.ledger;
	}

	/** Waits until everything produced outside a disruption, and every id's latest transition, was delivered. */
	async settle(timeoutMs?: number): Promise<boolean> {
		const ok = await settle(this.trigger, this.ledger, this.keyOf, timeoutMs);
		this.settled = ok && this.settled;
		return ok;
	}

	/**
	 * A disruption: `cut` injects it, makes what goes on meanwhile, and waits for the reconnect; until
	 * the trigger caught up and its reconcile is over, transitions count as produced while cut off.
	 */
	async disrupt(cut: () => Promise<void>): Promise<void> {
		this.ledger.beginDisruption();
		await cut();
		await this.settle();
		await restQuiet(this.emulator);
		this.ledger.endDisruption();
	}

	/** Every id to its end, then a settle. */
	async finish(): Promise<void> {
		this.driver.finishAll();
		await this.settle();
	}

	/** Runs `scenario`, then deactivates the trigger whatever happened. */
	async runThenDeactivate(scenario: () => Promise<void>): Promise<void> {
		try {
			await scenario();
		} finally {
			await this.trigger.deactivate();
		}
	}
}

/** Warning and error lines of a log, as bad-frame lines are. */
export function warningLines(lines: Array<{ level: string; message: string }>): string[] {
	return lines.filter((line) => line.level === 'warn' || line.level === 'error').map((line) => line.message);
}

/**
 * Bad frame number `index` of four kinds: not JSON; ~1 MiB and cut off (the client accepts frames up
 * to ws's default 100 MiB, so it is a bad frame, not a closed connection); an unknown type; a
 * service's own frame with wrongly typed fields (`wronglyTyped`). Each carries a marker its log line
 * can be found by, except where the service's log line shows no part of the frame (`marker` null).
 */
export function badFrame(index: number, wronglyTyped: (index: number) => { text: string; marker: RegExp | null }): { kind: string; text: string; marker: RegExp | null } {
	switch (index % 4) {
		case 0:
			return { kind: 'not JSON', text: `chaos-garbage-${index} {{{`, marker: new RegExp(`chaos-garbage-${index} `) };
		case 1:
			return {
				kind: 'oversized (1 MiB, not JSON)',
				text: `{"chaos-oversized":${index},"pad":"${'x'.repeat(1024 * 1024)}`,
				marker: new RegExp(`chaos-oversized\\\\?":${index},`),
			};
		case 2:
			return { kind: 'unknown type', text: JSON.stringify({ type: `chaos-unknown-${index}`, data: {} }), marker: new RegExp(`chaos-unknown-${index}\\b`) };
		default:
			return { kind: 'wrongly typed fields', ...wronglyTyped(index) };
	}
}
