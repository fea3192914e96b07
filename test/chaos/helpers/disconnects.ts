/**
 * The forced-disconnect run every service has: its stream class (not the trigger, whose parameters
 * cannot shorten keep-alive and backoff to chaos speed) through many faults of every kind, with
 * transitions produced before, during and after each, all accounted in a ledger.
 */
import { sleep } from '../../helpers/wait';
import { FAULT_KINDS, Patience, faultCounts, injectFault, restQuiet, yieldToIo } from './chaos';
import type { FaultKind, FaultableEmulator } from './chaos';
import { expectCleanDelivery } from './delivery';
import type { TransitionDriver } from './driver';
import type { LedgerFigures } from './ledger';
import type { FigureValue } from './report';

/** Keep-alive and backoff at chaos speed: a half-open socket is noticed within 300 ms, a reconnect follows within 20 ms. */
export const CHAOS_STREAM_TIMING = {
	keepAlive: { intervalMs: 50, timeoutMs: 250 },
	backoff: { initialMs: 2, maxMs: 20, factor: 2, stableAfterMs: 100 },
	sweepIntervalMs: 0,
};

/** The volume of every service's run: 10,000 transitions across 100 forced disconnects. */
export const TRANSITIONS = 10_000;
export const DISCONNECTS = 100;

export interface DisconnectRunOptions {
	emulator: FaultableEmulator & { terminateFrozenConnections(): void; stats: { restRequests: number; connectionsAccepted: number } };
	/** Makes the emulator produce the transitions, into its ledger. */
	driver: TransitionDriver;
	/**
	 * The stream under test: started before the first transition (streams per id may instead start
	 * as the driver creates them: no `start`), closed at the end whatever happened.
	 */
	stream: { start?(): Promise<void>; close(): Promise<void> };
	/** Called as a fault is about to be injected (to take what "back" is measured from); returns whether the stream is connected again. */
	watchReconnect: () => () => boolean;
	/** Whether new ids may appear while the stream is cut off (not where the service cannot recover one it never saw). */
	newIdsWhileCutOff: boolean;
	/** What must hold before the next fault, beyond the ledger being settled. */
	readyForFault?: () => boolean;
}

export interface DisconnectRun {
	faults: FaultKind[];
	/** Times the ledger was not settled before a fault, or not caught up after it, within its wait. */
	notSettled: number;
	notCaughtUp: number;
	/** Connections the emulator accepted in all (the stream(s) closed). */
	connectionsAccepted: number;
	seconds: string;
}

/** TRANSITIONS transitions across DISCONNECTS forced disconnects, the fault kinds in turn. */
export async function runForcedDisconnects(options: DisconnectRunOptions): Promise<DisconnectRun> {
	const { emulator, driver, newIdsWhileCutOff } = options;
	const { ledger } = driver;
	const transitions = TRANSITIONS;
	const disconnects = DISCONNECTS;
	const readyForFault = () => ledger.settled() && (options.readyForFault?.() ?? true);
	const started = Date.now();
	const faults: FaultKind[] = [];
	let notSettled = 0;
	let notCaughtUp = 0;
	const patience = new Patience();
	try {
		await options.stream.start?.();
		const perCycle = transitions / disconnects;
		for (let cycle = 0; cycle < disconnects; cycle++) {
			// Connected: transitions interleaved with the frames they cause.
			for (let i = 0; i < perCycle * 0.7; i++) {
				driver.step();
				if (i % 5 === 4) await yieldToIo();
			}
			if (!(await patience.until(readyForFault, 5_000))) notSettled += 1;

			const kind = FAULT_KINDS[cycle % FAULT_KINDS.length];
			faults.push(kind);
			const back = options.watchReconnect();
			ledger.beginDisruption();
			injectFault(emulator, kind);
			// Transitions go on while the stream is cut off: some at once, some while it notices and reconnects.
			let during = 0;
			for (; during < perCycle * 0.15; during++) driver.step(newIdsWhileCutOff);
			while (!back() && during < perCycle * 0.3) {
				driver.step(newIdsWhileCutOff);
				during++;
				await sleep(3);
			}
			await patience.until(back, 10_000);
			if (!(await patience.until(() => ledger.caughtUp(), 10_000))) notCaughtUp += 1;
			await restQuiet(emulator);
			ledger.endDisruption();
			emulator.terminateFrozenConnections();
		}
		// Every id to its end, connected; yielding now and then so frames (and streams being started) go along.
		while (ledger.producedCount < transitions) {
			driver.step();
			if (ledger.producedCount % 5 === 0) await yieldToIo();
		}
		while (driver.step(false)) if (ledger.producedCount % 5 === 0) await yieldToIo();
		await patience.until(() => ledger.settled() && ledger.caughtUp(), 10_000);
	} finally {
		await options.stream.close();
	}
	return { faults, notSettled, notCaughtUp, connectionsAccepted: emulator.stats.connectionsAccepted, seconds: ((Date.now() - started) / 1000).toFixed(1) };
}

/**
 * What differs in the run's rows: the service's words for its ids and figures. The defaults are
 * those of one stream on one socket whose service's REST resource knows only the latest status.
 */
export interface DisconnectRowWords {
	ids: string;
	unfinished: string;
	produced?: string;
	collapsed?: string;
	/** The row of the connections accepted (default: the reconnects of the one socket). */
	connections?: string;
}

/** The run's rows up to its unfinished ids; the test adds its failures, its own figures and the seconds. */
export function disconnectRows(run: DisconnectRun, figures: LedgerFigures, words: DisconnectRowWords): Record<string, FigureValue> {
	const connections = words.connections ? { [words.connections]: run.connectionsAccepted } : { 'reconnects (connections accepted - 1)': run.connectionsAccepted - 1 };
	return {
		[words.ids]: figures.ids,
		[words.produced ?? 'transitions produced']: figures.produced,
		'  of which while cut off': figures.producedWhileDisrupted,
		'items delivered': figures.delivered,
		...faultCounts(run.faults),
		...connections,
		lost: figures.lost,
		duplicated: figures.duplicated,
		'out of order': figures.outOfOrder,
		[words.collapsed ?? 'collapsed (passed while cut off; REST knows only the latest)']: figures.collapsed,
		[words.unfinished]: figures.unfinished,
	};
}

/**
 * The run's promise: clean delivery of at least TRANSITIONS, a fault in each of the DISCONNECTS
 * cycles, every wait met in time, and no error of the kinds in `failures` (e.g. fatal errors, failed starts).
 */
export function expectDisconnectRun(
	run: DisconnectRun,
	figures: LedgerFigures,
	failures: Record<string, Error[]>,
	alsoZero?: Parameters<typeof expectCleanDelivery>[1],
): void {
	expectCleanDelivery(figures, alsoZero);
	expect(figures.produced).toBeGreaterThanOrEqual(TRANSITIONS);
	expect(run.faults).toHaveLength(DISCONNECTS);
	const messages = Object.fromEntries(Object.entries(failures).map(([kind, errors]) => [kind, errors.map((error) => error.message)]));
	const none = Object.fromEntries(Object.keys(failures).map((kind) => [kind, []]));
	expect({ notSettled: run.notSettled, notCaughtUp: run.notCaughtUp, ...messages }).toEqual({ notSettled: 0, notCaughtUp: 0, ...none });
}
