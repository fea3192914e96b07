/** What every chaos file shares: fault kinds, waiting, a REST budget for volume, leak and heap checks. */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

import { RestBudget } from '../../../nodes/shared/restBudget';
import { activeTimerCount, sleep } from '../../helpers/wait';
import { megabytes } from './report';
import type { FigureValue } from './report';

/** The forced disconnects, in turn: TCP destroyed, server close codes that are not auth refusals, half-open. */
export const FAULT_KINDS = ['tcp-destroy', 'close-1001', 'close-1011', 'close-1012', 'close-1013', 'half-open'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultableEmulator {
	dropAllConnections(): void;
	closeAllConnections(code: number, reason?: string): void;
	freezeConnections(): number;
}

export function injectFault(emulator: FaultableEmulator, kind: FaultKind): void {
	switch (kind) {
		case 'tcp-destroy':
			emulator.dropAllConnections();
			return;
		case 'half-open':
			emulator.freezeConnections();
			return;
		default: {
			const code = Number(kind.slice('close-'.length));
			const reasons: Record<number, string> = { 1001: 'Going away', 1011: 'Internal error', 1012: 'Service restart', 1013: 'Try again later' };
			emulator.closeAllConnections(code, reasons[code]);
		}
	}
}

export function faultCounts(kinds: FaultKind[]): Record<string, FigureValue> {
	const counts: Record<string, number> = {};
	for (const kind of kinds) counts[kind] = (counts[kind] ?? 0) + 1;
	return { 'forced disconnects': kinds.length, ...Object.fromEntries(FAULT_KINDS.map((kind) => [`  of which ${kind}`, counts[kind] ?? 0])) };
}

/** Polls `condition` until true or `timeoutMs`; says which (a chaos driver goes on either way and counts what is missing). */
export async function until(condition: () => boolean, timeoutMs: number, stepMs = 2): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) return false;
		await sleep(stepMs);
	}
	return true;
}

/** Lets queued I/O run (frames reach the stream) without waiting for a timer. */
export const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The REST budget (5 reads/s per key) is politeness toward the real service; at chaos volume a
 * reconnect every few hundred ms would spend minutes waiting for it. Against the emulator the
 * client gets a generous one; the budget's own behaviour is tested in the unit suite.
 */
export function withGenerousRestBudget<T extends object>(client: T): T {
	Object.defineProperty(client, 'restBudget', { value: new RestBudget({ ratePerSecond: 2_000, burst: 500 }) });
	return client;
}

/** Waits until REST requests stopped arriving at the emulator for `quietMs` (a reconcile is over). */
export async function restQuiet(emulator: { stats: { restRequests: number } }, quietMs = 30, timeoutMs = 5_000): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	let seen = emulator.stats.restRequests;
	let since = Date.now();
	while (Date.now() < deadline) {
		await sleep(5);
		if (emulator.stats.restRequests !== seen) {
			seen = emulator.stats.restRequests;
			since = Date.now();
		} else if (Date.now() - since >= quietMs) {
			return true;
		}
	}
	return false;
}

// ----- leaks and heap ----------------------------------------------------------------------------

let gcFunction: (() => void) | undefined;

/** A full collection: `global.gc` under `node --expose-gc`, else one borrowed from a fresh context. */
export function forceGc(): void {
	if (!gcFunction) {
		const exposed = (globalThis as { gc?: () => void }).gc;
		if (typeof exposed === 'function') {
			gcFunction = exposed;
		} else {
			setFlagsFromString('--expose-gc');
			gcFunction = runInNewContext('gc') as () => void;
		}
	}
	gcFunction();
}

export async function settledHeapUsed(): Promise<number> {
	// Twice, with I/O in between, so finalizers and weak callbacks have run.
	forceGc();
	await sleep(20);
	forceGc();
	return process.memoryUsage().heapUsed;
}

export function activeHandleCount(): number {
	return (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
}

export interface CycleFigures {
	cycles: number;
	handlesBefore: number;
	handlesAfter: number;
	timersBefore: number;
	timersAfter: number;
	socketsAtEmulator: number;
	heapAfter100: number;
	heapAfterAll: number;
	heapGrowth: number;
	msPerCycle: number;
}

/** Cycles run before the baseline is taken (see `runCycles`). */
export const WARM_UP_CYCLES = 10;

/**
 * `count` activate/deactivate cycles of `cycle` (which activates, checks it works, and deactivates).
 * A few warm-up cycles first (module caches, n8n's own singletons), then the baseline of handles and
 * timers; the heap after 100 cycles and after all of them; and the handles and timers once everything
 * has had time to close (idle HTTP keep-alive sockets included).
 */
export async function runCycles(count: number, cycle: (index: number) => Promise<void>, openSockets: () => number): Promise<CycleFigures> {
	for (let i = 0; i < WARM_UP_CYCLES; i++) await cycle(-1 - i);
	await until(() => openSockets() === 0, 5_000);
	await sleep(50);
	const handlesBefore = activeHandleCount();
	const timersBefore = activeTimerCount();
	const started = Date.now();
	let heapAfter100 = 0;
	for (let i = 0; i < count; i++) {
		await cycle(i);
		if (i === 99) heapAfter100 = await settledHeapUsed();
	}
	const msPerCycle = (Date.now() - started) / count;
	const heapAfterAll = await settledHeapUsed();
	await until(() => openSockets() === 0 && activeHandleCount() <= handlesBefore && activeTimerCount() <= timersBefore, 10_000, 20);
	return {
		cycles: count,
		handlesBefore,
		handlesAfter: activeHandleCount(),
		timersBefore,
		timersAfter: activeTimerCount(),
		socketsAtEmulator: openSockets(),
		heapAfter100,
		heapAfterAll,
		heapGrowth: heapAfterAll - heapAfter100,
		msPerCycle,
	};
}

export function cycleRows(figures: CycleFigures): Record<string, FigureValue> {
	return {
		'activate/deactivate cycles': figures.cycles,
		'ms per cycle': figures.msPerCycle.toFixed(1),
		'open handles before → after': `${figures.handlesBefore} → ${figures.handlesAfter}`,
		'timers before → after': `${figures.timersBefore} → ${figures.timersAfter}`,
		'sockets left at the emulator': figures.socketsAtEmulator,
		'heap after 100 cycles': megabytes(figures.heapAfter100),
		'heap after all cycles': megabytes(figures.heapAfterAll),
		'heap growth': megabytes(figures.heapGrowth),
	};
}

/** Generous: a leak of one socket's worth of state per cycle (1,000 cycles) shows well above it. */
export const HEAP_GROWTH_LIMIT_BYTES = 10 * 1024 * 1024;

/**
 * `until` for a long run: once a wait has timed out (something is missing and will stay missing),
 * later waits get only a short grace, so the run still ends in time and its figures show the loss.
 */
export class Patience {
	private exhausted = false;
	timeouts = 0;

	async until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
		const ok = await until(condition, this.exhausted ? Math.min(timeoutMs, 300) : timeoutMs);
		if (!ok) {
			this.exhausted = true;
			this.timeouts += 1;
		}
		return ok;
	}
}
