/**
 * Tachyon under chaos: the account's transaction stream against the emulator's fault injection, at
 * volume. The forced-disconnect run drives the stream class itself (the trigger's parameters cannot
 * shorten keep-alive and backoff to chaos speed); everything else runs the Tachyon Trigger in n8n's engine.
 */
import type { IDataObject } from 'n8n-workflow';

import { TachyonEmulator } from '../../emulators/tachyon';
import type { TachyonStatus } from '../../emulators/tachyon';
import { TachyonApiClient, resolveTachyonConnection } from '../../nodes/Tachyon/TachyonApiClient';
import { TachyonStream } from '../../nodes/Tachyon/TachyonStream';
import { TachyonTrigger } from '../../nodes/Tachyon/TachyonTrigger.node';
import { CapturingLogger } from '../helpers/logs';
import { activateTrigger, engineLogs } from '../helpers/n8nEngine';
import type { ActiveTrigger } from '../helpers/n8nEngine';
import { sleep } from '../helpers/wait';
import { FAULT_KINDS, HEAP_GROWTH_LIMIT_BYTES, Patience, cycleRows, faultCounts, injectFault, restQuiet, runCycles, until, withGenerousRestBudget, yieldToIo } from './helpers/chaos';
import type { FaultKind } from './helpers/chaos';
import { badFrame, settle as settleTrigger, warningLines } from './helpers/engine';
import { Ledger } from './helpers/ledger';
import { ChaosReport } from './helpers/report';

const API_KEY = 'tachyon-chaos-key-7c21e9b0';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.Y2hhb3M.c2lnbmF0dXJlMw';
const WS_KEY = 'ws_chaos_3f8e0a6d2b9c41e7';
const report = new ChaosReport('Tachyon');
const PARAMETERS = { statuses: [], txIds: '', chainIds: '' };

let emulator: TachyonEmulator;

beforeEach(async () => {
	emulator = await TachyonEmulator.start({ accounts: [{ apiKey: API_KEY, dashboardJwt: JWT, wsKey: WS_KEY }] });
	engineLogs.clear();
});

afterEach(async () => {
	await emulator.close();
});

const connectionFields = () => ({ baseUrl: emulator.baseUrl, apiKey: API_KEY, dashboardJwt: JWT, wsUrl: emulator.wsUrl, wsKey: WS_KEY });
const activate = async () => await activateTrigger({ nodeType: new TachyonTrigger(), parameters: PARAMETERS as never, credentials: { tachyonApi: connectionFields() } });

/** A transition is its status and retry count (PENDING comes back after NEEDS_TO_BE_RETRIED). */
const keyOf = (status: string, retries: number) => `${status}#${retries}`;
const itemKey = (item: IDataObject) => keyOf(String(item.status), Number((item.details as IDataObject | undefined)?.retries ?? 0));

/**
 * Transactions on the emulator: NOT_PICKED_UP → PENDING → NEEDS_TO_BE_RETRIED → PENDING → EXECUTED
 * (one in ten FAILED instead), each transition written to the ledger with its place in that plan.
 */
class TransactionDriver {
	readonly active: string[] = [];
	private created = 0;

	constructor(
		private readonly ledger: Ledger,
		private readonly window = 20,
	) {}

	create(): void {
		const willFail = this.created++ % 10 === 9;
		const tx = emulator.submit(API_KEY, { willRetry: 1, willFail });
		this.ledger.produce(tx.id, keyOf(tx.status, tx.retries), 0, false);
		this.active.push(tx.id);
	}

	advance(index: number): void {
		const txId = this.active[index];
		const tx = emulator.advance(txId);
		const order = (emulator.getTransaction(txId) as { retries: number }).retries * 2 + ({ PENDING: 1, NEEDS_TO_BE_RETRIED: 0, EXECUTED: 2, FAILED: 2, NOT_PICKED_UP: 0 } as Record<TachyonStatus, number>)[tx.status];
		const final = tx.status === 'EXECUTED' || tx.status === 'FAILED';
		this.ledger.produce(txId, keyOf(tx.status, tx.retries), order, final);
		if (final) this.active.splice(index, 1);
	}

	step(mayCreate = true): boolean {
		if (mayCreate && this.active.length < this.window) this.create();
		else if (this.active.length > 0) this.advance(Math.floor(Math.random() * this.active.length));
		else return false;
		return true;
	}
}

test('10,000 transitions across 100 forced disconnects of every kind: 0 lost, 0 duplicated, in order per transaction', async () => {
	const TRANSITIONS = 10_000;
	const DISCONNECTS = 100;
	const ledger = new Ledger(true);
	const driver = new TransactionDriver(ledger);
	const logger = new CapturingLogger();
	const fatals: Error[] = [];
	const client = withGenerousRestBudget(new TachyonApiClient(resolveTachyonConnection(connectionFields())));
	const stream = new TachyonStream({
		client,
		onItem: (item) => ledger.deliver(item.id, itemKey(item as unknown as IDataObject)),
		onFatal: (error) => fatals.push(error),
		logger,
		keepAlive: { intervalMs: 50, timeoutMs: 250 },
		backoff: { initialMs: 2, maxMs: 20, factor: 2, stableAfterMs: 100 },
		sweepIntervalMs: 0,
	});
	const started = Date.now();
	const faults: FaultKind[] = [];
	let notSettled = 0;
	let notCaughtUp = 0;
	const patience = new Patience();
	try {
		await stream.start();
		const perCycle = TRANSITIONS / DISCONNECTS;
		for (let cycle = 0; cycle < DISCONNECTS; cycle++) {
			for (let i = 0; i < perCycle * 0.7; i++) {
				driver.step();
				if (i % 5 === 4) await yieldToIo();
			}
			if (!(await patience.until(() => ledger.settled(), 5_000))) notSettled += 1;

			const kind = FAULT_KINDS[cycle % FAULT_KINDS.length];
			faults.push(kind);
			const acceptedBefore = emulator.stats.connectionsAccepted;
			ledger.beginDisruption();
			injectFault(emulator, kind);
			// Transactions go on moving while the stream is cut off. No new ones: Tachyon has no
			// listing, so one submitted and finished while disconnected is not recoverable (README).
			const back = () => emulator.openConnectionCount() >= 1 && emulator.stats.connectionsAccepted > acceptedBefore;
			let during = 0;
			for (; during < perCycle * 0.15; during++) driver.step(false);
			while (!back() && during < perCycle * 0.3) {
				driver.step(false);
				during++;
				await sleep(3);
			}
			await patience.until(back, 10_000);
			if (!(await patience.until(() => ledger.caughtUp(), 10_000))) notCaughtUp += 1;
			await restQuiet(emulator);
			ledger.endDisruption();
			emulator.terminateFrozenConnections();
		}
		while (ledger.producedCount < TRANSITIONS) driver.step();
		while (driver.step(false)) if (ledger.producedCount % 5 === 0) await yieldToIo();
		await patience.until(() => ledger.settled() && ledger.caughtUp(), 10_000);
	} finally {
		await stream.close();
	}

	const figures = ledger.figures();
	report.record('forced disconnects (stream class)', {
		'transactions (1 retry each, 10% failing)': figures.ids,
		'transitions produced': figures.produced,
		'  of which while cut off': figures.producedWhileDisrupted,
		'items delivered': figures.delivered,
		...faultCounts(faults),
		'reconnects (connections accepted - 1)': emulator.stats.connectionsAccepted - 1,
		lost: figures.lost,
		duplicated: figures.duplicated,
		'out of order': figures.outOfOrder,
		'collapsed (passed while cut off; REST knows only the latest)': figures.collapsed,
		'transactions without their final status': figures.unfinished,
		'fatal errors': fatals.length,
		'REST reads (reconciles)': emulator.stats.transactionReads,
		seconds: ((Date.now() - started) / 1000).toFixed(1),
	});
	expect(figures.examples).toEqual([]);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, unfinished: 0 });
	expect(figures.produced).toBeGreaterThanOrEqual(TRANSITIONS);
	expect(faults).toHaveLength(DISCONNECTS);
	expect(emulator.stats.connectionsAccepted).toBeGreaterThanOrEqual(DISCONNECTS + 1);
	expect({ notSettled, notCaughtUp, fatals: fatals.map((e) => e.message) }).toEqual({ notSettled: 0, notCaughtUp: 0, fatals: [] });
});

// ----- in n8n's engine: the Tachyon Trigger ------------------------------------------------------

const settle = async (trigger: ActiveTrigger, ledger: Ledger, timeoutMs?: number) => await settleTrigger(trigger, ledger, itemKey, timeoutMs);

/** A transaction frame whose fields have the wrong types; Tachyon's log line quotes the frame. */
const wronglyTyped = (index: number) => ({
	text: JSON.stringify({ txId: index, status: ['EXECUTED'], chainId: 'base', note: `chaos-wrong-${index}` }),
	marker: new RegExp(`chaos-wrong-${index}\\b`),
});

test('1,000 malformed, oversized, unknown-type and wrongly-typed frames: no crash, each logged once and skipped, good frames still delivered', async () => {
	const ledger = new Ledger(false);
	const driver = new TransactionDriver(ledger, 10);
	const trigger = await activate();
	const sent = new Map<string, number>();
	const markers: Array<RegExp | null> = [];
	let settled = false;
	try {
		for (let i = 0; i < 1_000; i++) {
			const frame = badFrame(i, wronglyTyped);
			emulator.sendRawToAll(frame.text);
			sent.set(frame.kind, (sent.get(frame.kind) ?? 0) + 1);
			markers.push(frame.marker);
			if (i % 2 === 1) driver.step();
			if (i % 10 === 9) await yieldToIo();
		}
		while (driver.step(false));
		settled = await settle(trigger, ledger);
	} finally {
		await trigger.deactivate();
	}
	const warnings = warningLines(engineLogs.lines);
	const markedOnce = markers.filter((marker) => marker !== null && warnings.filter((m) => marker.test(m)).length === 1).length;
	const badFrameLines = warnings.filter((m) => /Skipped a frame that is not JSON|Tachyon: skipped /.test(m)).length;
	const figures = ledger.figures();
	report.record('bad frames (n8n engine)', {
		'bad frames sent': 1_000,
		...Object.fromEntries([...sent].map(([kind, count]) => [`  ${kind}`, count])),
		'log lines for bad frames': badFrameLines,
		'bad frames logged exactly once': markedOnce,
		'bad frames skipped (no item, no reconnect)': 1_000 - figures.unexpected,
		'good transitions interleaved': figures.produced,
		'good transitions delivered': figures.delivered,
		'lost / duplicated / out of order': `${figures.lost} / ${figures.duplicated} / ${figures.outOfOrder}`,
		'connections (1 = never dropped)': emulator.stats.connectionsAccepted,
		'errors emitted': trigger.errors.length,
	});
	expect(settled).toBe(true);
	expect(figures.examples).toEqual([]);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0 });
	expect(badFrameLines).toBe(1_000);
	expect(markedOnce).toBe(1_000);
	expect(emulator.stats.connectionsAccepted).toBe(1);
	expect(trigger.errors).toEqual([]);
});

test('a rate-limited reconnect (HTTP 429 with Retry-After on the upgrade) is honoured: no attempt before it', async () => {
	const RETRY_AFTER_SECONDS = 1;
	const ledger = new Ledger(true);
	const driver = new TransactionDriver(ledger, 5);
	const trigger = await activate();
	const upgradeTimes: number[] = [];
	let settled = true;
	try {
		for (let i = 0; i < 50; i++) driver.step();
		settled &&= await settle(trigger, ledger);
		emulator.onUpgradeRequest = () => {
			upgradeTimes.push(Date.now());
			// Only the first attempt is refused (once the refusal has been written).
			if (upgradeTimes.length === 1) setImmediate(() => emulator.setRefuseUpgrades(null));
		};
		emulator.setRefuseUpgrades(429, RETRY_AFTER_SECONDS);
		ledger.beginDisruption();
		emulator.dropAllConnections();
		await until(() => upgradeTimes.length >= 2 && emulator.openConnectionCount() === 1, 10_000);
		for (let i = 0; i < 20; i++) driver.step(false);
		settled &&= await settle(trigger, ledger);
		await restQuiet(emulator);
		ledger.endDisruption();
		while (driver.step(false));
		settled &&= await settle(trigger, ledger);
	} finally {
		await trigger.deactivate();
	}
	const waitedMs = upgradeTimes[1] - upgradeTimes[0];
	const figures = ledger.figures();
	report.record('rate limit (n8n engine)', {
		'Retry-After on the refused upgrade (s)': RETRY_AFTER_SECONDS,
		'next attempt after (ms)': waitedMs,
		'upgrade attempts': upgradeTimes.length,
		'transitions produced / delivered': `${figures.produced} / ${figures.delivered}`,
		'lost / duplicated / out of order': `${figures.lost} / ${figures.duplicated} / ${figures.outOfOrder}`,
		'errors emitted': trigger.errors.length,
	});
	expect(waitedMs).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000);
	expect(upgradeTimes).toHaveLength(2);
	expect(settled).toBe(true);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unfinished: 0 });
	expect(trigger.errors).toEqual([]);
});

test('the server closing at its maximum connection lifetime (1000 / 1001 close): seamless reconnect, nothing lost, no error', async () => {
	const ledger = new Ledger(true);
	const driver = new TransactionDriver(ledger, 10);
	const trigger = await activate();
	// The emulator has no lifetime of its own: the server closes as one would at its limit.
	const closes = [
		[1000, 'Maximum connection lifetime reached'],
		[1001, 'Connection lifetime exceeded'],
	] as const;
	let settled = true;
	try {
		for (const [code, reason] of closes) {
			for (let i = 0; i < 100; i++) driver.step();
			settled &&= await settle(trigger, ledger);
			const accepted = emulator.stats.connectionsAccepted;
			ledger.beginDisruption();
			emulator.closeAllConnections(code, reason);
			for (let i = 0; i < 50; i++) driver.step(false);
			await until(() => emulator.stats.connectionsAccepted > accepted && emulator.openConnectionCount() === 1, 10_000);
			settled &&= await settle(trigger, ledger);
			await restQuiet(emulator);
			ledger.endDisruption();
		}
		while (driver.step(false));
		settled &&= await settle(trigger, ledger);
	} finally {
		await trigger.deactivate();
	}
	const figures = ledger.figures();
	report.record('max connection lifetime (n8n engine)', {
		'lifetime closes (1000, 1001)': closes.length,
		reconnects: emulator.stats.connectionsAccepted - 1,
		'transitions produced / delivered': `${figures.produced} / ${figures.delivered}`,
		'lost / duplicated / out of order': `${figures.lost} / ${figures.duplicated} / ${figures.outOfOrder}`,
		collapsed: figures.collapsed,
		'errors emitted': trigger.errors.length,
	});
	expect(settled).toBe(true);
	expect(figures.examples).toEqual([]);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unfinished: 0 });
	expect(emulator.stats.connectionsAccepted).toBe(1 + closes.length);
	expect(trigger.errors).toEqual([]);
});

test('a WebSocket key revoked mid-life: one clear error, no reconnect storm', async () => {
	const ledger = new Ledger(false);
	const driver = new TransactionDriver(ledger, 5);
	const trigger = await activate();
	let upgrades = 0;
	try {
		for (let i = 0; i < 50; i++) driver.step();
		await settle(trigger, ledger);
		emulator.onUpgradeRequest = () => upgrades++;
		emulator.revokeWsKey(WS_KEY);
		await trigger.waitForError(5_000).catch(() => undefined);
		await sleep(3_000);
	} finally {
		await trigger.deactivate();
	}
	report.record('key revoked mid-life (n8n engine)', {
		'errors emitted': trigger.errors.length,
		error: trigger.errors[0]?.message ?? '(none)',
		'upgrade attempts in the 3 s after': upgrades,
		'open connections left': emulator.openConnectionCount(),
	});
	expect(trigger.errors).toHaveLength(1);
	expect(trigger.errors[0].message).toMatch(/refused the WebSocket key/);
	expect(trigger.errors[0].message).not.toContain(WS_KEY);
	expect(upgrades).toBeLessThanOrEqual(1);
	expect(emulator.openConnectionCount()).toBe(0);
});

test('1,000 activate/deactivate cycles: no open handles, no sockets left, a flat heap', async () => {
	const figures = await runCycles(
		1_000,
		async () => {
			const trigger = await activate();
			await trigger.deactivate();
		},
		() => emulator.openConnectionCount(),
	);
	report.record('activate/deactivate (n8n engine)', { ...cycleRows(figures), 'connections accepted': emulator.stats.connectionsAccepted });
	expect(emulator.stats.connectionsAccepted).toBe(1_010);
	expect(figures.socketsAtEmulator).toBe(0);
	expect(figures.handlesAfter).toBeLessThanOrEqual(figures.handlesBefore);
	expect(figures.timersAfter).toBeLessThanOrEqual(figures.timersBefore);
	expect(figures.heapGrowth).toBeLessThan(HEAP_GROWTH_LIMIT_BYTES);
});
