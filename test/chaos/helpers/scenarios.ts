/**
 * The scenarios every trigger goes through in n8n's engine, each with the rows it records and the
 * promise it asserts; a test file supplies what is its service's own (how frames reach a socket,
 * how access is revoked, how the server closes at its lifetime, what its log lines say).
 */
import { engineLogs } from '../../helpers/n8nEngine';
import type { ActiveTrigger } from '../../helpers/n8nEngine';
import { sleep } from '../../helpers/wait';
import { HEAP_GROWTH_LIMIT_BYTES, WARM_UP_CYCLES, cycleRows, runCycles, until, yieldToIo } from './chaos';
import { deliveryRows, expectCleanDelivery } from './delivery';
import { badFrame, warningLines } from './engine';
import type { EngineEmulator, FollowedTrigger } from './engine';
import type { ChaosReport, FigureValue } from './report';

// ----- bad frames ---------------------------------------------------------------------------------

export const BAD_FRAMES = 1_000;

export interface BadFramesSent {
	/** Frames sent, by kind. */
	sent: Map<string, number>;
	/** Each frame's marker (null: its log line shows no part of the frame). */
	markers: Array<RegExp | null>;
}

/**
 * Sends BAD_FRAMES bad frames of every kind (see `badFrame`) through `send`, calling `between` after
 * each (to interleave good transitions), with a turn of the event loop every ten.
 */
async function sendBadFrames(
	wronglyTyped: Parameters<typeof badFrame>[1],
	send: (text: string, index: number) => void,
	between: (index: number) => void,
): Promise<BadFramesSent> {
	const sent = new Map<string, number>();
	const markers: Array<RegExp | null> = [];
	for (let i = 0; i < BAD_FRAMES; i++) {
		const frame = badFrame(i, wronglyTyped);
		send(frame.text, i);
		sent.set(frame.kind, (sent.get(frame.kind) ?? 0) + 1);
		markers.push(frame.marker);
		between(i);
		if (i % 10 === 9) await yieldToIo();
	}
	return { sent, markers };
}

export interface BadFrameSending {
	/** The service's own frame with wrongly typed fields (see `badFrame`). */
	wronglyTyped: Parameters<typeof badFrame>[1];
	/** Once the trigger is active, before the first bad frame. */
	before?: () => Promise<void>;
	/** How frame number `index` reaches the trigger (default: to every socket). */
	send?: (text: string, index: number) => void;
	/** The good transitions interleaved, after frame number `index` (default: one per two bad frames). */
	between?: (index: number) => void;
}

export interface BadFrameLogWords {
	/** Matches every log line the service writes for a skipped bad frame. */
	badFrameLine: RegExp;
	/** Matches its line for a wrongly typed frame, where that line shows no part of the frame (marker null). */
	wronglyTypedLine?: RegExp;
	/** What a good transition is called (default: transitions). */
	noun?: string;
	/** Connections the trigger opens and keeps, one per socket it needs (default: 1). */
	connections?: number;
}

/**
 * Bad frames are skipped: each logged exactly once (a marked frame by its own line, an unmarked one
 * by the wrongly-typed line), none becoming an item, dropping a connection or emitting an error,
 * and the good transitions around them delivered cleanly.
 */
export async function expectBadFramesSkipped(report: ChaosReport, section: string, followed: FollowedTrigger, sending: BadFrameSending, words: BadFrameLogWords): Promise<void> {
	const { trigger, emulator, driver } = followed;
	const { noun = 'transitions', connections = 1 } = words;
	const {
		send = (text) => emulator.sendRawToAll(text),
		between = (i) => {
			if (i % 2 === 1) driver.step();
		},
	} = sending;
	let frames: BadFramesSent = { sent: new Map(), markers: [] };
	await followed.runThenDeactivate(async () => {
		await sending.before?.();
		frames = await sendBadFrames(sending.wronglyTyped, send, between);
		await followed.finish();
	});
	const warnings = warningLines(engineLogs.lines);
	const markedOnce = frames.markers.filter((marker) => marker !== null && warnings.filter((m) => marker.test(m)).length === 1).length;
	const unmarked = frames.markers.filter((marker) => marker === null).length;
	const wronglyTypedLines = words.wronglyTypedLine ? warnings.filter((m) => words.wronglyTypedLine?.test(m)).length : 0;
	const badFrameLines = warnings.filter((m) => words.badFrameLine.test(m)).length;
	const figures = followed.ledger.figures();
	report.record(section, {
		'bad frames sent': BAD_FRAMES,
		...Object.fromEntries([...frames.sent].map(([kind, count]) => [`  ${kind}`, count])),
		'log lines for bad frames': badFrameLines,
		'bad frames logged exactly once': markedOnce + wronglyTypedLines,
		'bad frames skipped (no item, no reconnect)': BAD_FRAMES - figures.unexpected,
		[`good ${noun} interleaved`]: figures.produced,
		[`good ${noun} delivered`]: figures.delivered,
		'lost / duplicated / out of order': `${figures.lost} / ${figures.duplicated} / ${figures.outOfOrder}`,
		[`connections (${connections} = never dropped)`]: emulator.stats.connectionsAccepted,
		'errors emitted': trigger.errors.length,
	});
	expect(followed.settled).toBe(true);
	expectCleanDelivery(figures);
	expect(badFrameLines).toBe(BAD_FRAMES);
	expect(markedOnce).toBe(BAD_FRAMES - unmarked);
	expect(wronglyTypedLines).toBe(unmarked);
	expect(emulator.stats.connectionsAccepted).toBe(connections);
	expect(trigger.errors).toEqual([]);
}

// ----- the server closing at its maximum connection lifetime -------------------------------------

const LIFETIME_REASONS = { 1000: 'Maximum connection lifetime reached', 1001: 'Connection lifetime exceeded' } as const;

/**
 * For an emulator with no lifetime of its own: closes of every socket, with these codes, as a
 * server would close them at its limit.
 */
export function lifetimeCloses(emulator: { closeAllConnections(code: number, reason?: string): void }, codes: Array<keyof typeof LIFETIME_REASONS>): Array<() => void> {
	return codes.map((code) => () => emulator.closeAllConnections(code, LIFETIME_REASONS[code]));
}

export interface LifetimeCloses {
	/** Each makes the server close (every socket) as it would at its lifetime limit. */
	closes: Array<() => void>;
	/** What the closes are, for the row's name. */
	label: string;
	/** Transitions before each close (connected), and while the trigger reconnects. */
	before: () => void;
	during: () => void;
	/**
	 * How the trigger's sockets come back, where it has more than one: whether it is connected again
	 * (given the connections accepted before the close), and the connection figure of the rows. By
	 * default it has one socket, which each close makes it open once again.
	 */
	sockets?: { reconnected: (acceptedBefore: number) => boolean; connectionRows: () => Record<string, FigureValue> };
	/** What a transition is called (default: transitions). */
	noun?: string;
	alsoZero?: Parameters<typeof expectCleanDelivery>[1];
}

/** Each lifetime close is a seamless reconnect: everything delivered cleanly and no error. */
export async function expectSeamlessLifetimeCloses(report: ChaosReport, section: string, followed: FollowedTrigger, run: LifetimeCloses): Promise<void> {
	const { trigger, emulator } = followed;
	const oneSocket = {
		reconnected: (acceptedBefore: number) => emulator.stats.connectionsAccepted > acceptedBefore && emulator.openConnectionCount() === 1,
		connectionRows: () => ({ reconnects: emulator.stats.connectionsAccepted - 1 }),
	};
	const sockets = run.sockets ?? oneSocket;
	await followed.runThenDeactivate(async () => {
		for (const close of run.closes) {
			run.before();
			await followed.settle();
			const accepted = emulator.stats.connectionsAccepted;
			await followed.disrupt(async () => {
				close();
				run.during();
				await until(() => sockets.reconnected(accepted), 10_000);
			});
		}
		await followed.finish();
	});
	const figures = followed.ledger.figures();
	report.record(section, {
		[`lifetime closes (${run.label})`]: run.closes.length,
		...sockets.connectionRows(),
		...deliveryRows(figures, run.noun ?? 'transitions'),
		collapsed: figures.collapsed,
		'errors emitted': trigger.errors.length,
	});
	expect(followed.settled).toBe(true);
	expectCleanDelivery(figures, run.alsoZero);
	expect(trigger.errors).toEqual([]);
	// One socket: one reconnect per close, none more.
	if (!run.sockets) expect(emulator.stats.connectionsAccepted).toBe(1 + run.closes.length);
}

// ----- access revoked mid-life -------------------------------------------------------------------

/** A read or upgrade already sent when the error came reaches the emulator a moment later: not a retry. */
const IN_FLIGHT_MS = 100;
/** Long enough for a few reconnects with the trigger's own backoff (0.5 s, 1 s, 2 s…). */
const WATCH_AFTER_ERROR_MS = 3_000;

export interface Revocation {
	/** Makes the service refuse the trigger's access from now on. */
	revoke: () => void;
	/**
	 * Whether the trigger learns of the refusal only by reconnecting (its sockets dropped without a
	 * word), so that its attempts before the error are expected; otherwise no more than one upgrade
	 * may follow the revocation at all.
	 */
	learnedOnReconnect: boolean;
	/** What the error must say, and the secret it must not show. */
	message: RegExp;
	secret?: string;
}

/**
 * Access revoked mid-life: one clear error, then no reconnect storm (at most one upgrade and one
 * REST read in the seconds after it: one a backoff already had due), and no socket left open.
 */
export async function expectOneErrorNoStorm(report: ChaosReport, section: string, followed: FollowedTrigger, before: () => void, revocation: Revocation): Promise<void> {
	const { trigger, emulator } = followed;
	let upgrades = 0;
	let upgradesAtError = 0;
	let restReads = 0;
	await followed.runThenDeactivate(async () => {
		before();
		await followed.settle();
		emulator.onUpgradeRequest = () => upgrades++;
		revocation.revoke();
		await trigger.waitForError(5_000).catch(() => undefined);
		await sleep(IN_FLIGHT_MS);
		upgradesAtError = upgrades;
		emulator.onRestRequest = () => restReads++;
		await sleep(WATCH_AFTER_ERROR_MS);
	});
	report.record(section, {
		'errors emitted': trigger.errors.length,
		error: trigger.errors[0]?.message ?? '(none)',
		'upgrade attempts from the revocation to the error': upgradesAtError,
		'upgrade attempts in the 3 s after the error': upgrades - upgradesAtError,
		'REST reads in the 3 s after the error': restReads,
		'open connections left': emulator.openConnectionCount(),
	});
	expect(trigger.errors).toHaveLength(1);
	expect(trigger.errors[0].message).toMatch(revocation.message);
	if (revocation.secret !== undefined) expect(trigger.errors[0].message).not.toContain(revocation.secret);
	expect(upgrades - upgradesAtError).toBeLessThanOrEqual(1);
	if (!revocation.learnedOnReconnect) expect(upgrades).toBeLessThanOrEqual(1);
	expect(restReads).toBeLessThanOrEqual(1);
	expect(emulator.openConnectionCount()).toBe(0);
}

// ----- activate/deactivate cycles ----------------------------------------------------------------

export const CYCLES = 1_000;

/** CYCLES activations and deactivations leave no handle, timer or socket behind and a flat heap. */
export async function expectNoLeaksOverCycles(report: ChaosReport, emulator: EngineEmulator, activate: () => Promise<ActiveTrigger>): Promise<void> {
	const figures = await runCycles(
		CYCLES,
		async () => {
			const trigger = await activate();
			await trigger.deactivate();
		},
		() => emulator.openConnectionCount(),
	);
	report.record('activate/deactivate (n8n engine)', { ...cycleRows(figures), 'connections accepted': emulator.stats.connectionsAccepted });
	// One connection per activation, warm-up included: none shared, none left over, none retried.
	expect(emulator.stats.connectionsAccepted).toBe(WARM_UP_CYCLES + CYCLES);
	expect(figures.socketsAtEmulator).toBe(0);
	expect(figures.handlesAfter).toBeLessThanOrEqual(figures.handlesBefore);
	expect(figures.timersAfter).toBeLessThanOrEqual(figures.timersBefore);
	expect(figures.heapGrowth).toBeLessThan(HEAP_GROWTH_LIMIT_BYTES);
}
