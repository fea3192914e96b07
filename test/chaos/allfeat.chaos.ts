/**
 * Allfeat ATS under chaos. The service's channel is per transaction (one socket each, closed by
 * the server at the final step), so "transitions" here are the steps of many transactions: about
 * 1,750 transactions of up to six steps each make the 10,000, followed 20 at a time. Its REST
 * resource keeps every step, so nothing may collapse: every step of every id must arrive.
 * The forced-disconnect run drives the stream class itself (the trigger's parameters cannot shorten
 * keep-alive and backoff to chaos speed); everything else runs the Allfeat ATS Trigger in n8n's engine.
 */
import type { IDataObject } from 'n8n-workflow';

import { ALLFEAT_STEP_SEQUENCE, AllfeatEmulator } from '../../emulators/allfeat';
import { AllfeatAtsApiClient, resolveAllfeatConnection } from '../../nodes/AllfeatAts/AllfeatAtsApiClient';
import { AllfeatTransactionStream } from '../../nodes/AllfeatAts/AllfeatTransactionStream';
import { AllfeatAtsTrigger } from '../../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { CapturingLogger } from '../helpers/logs';
import { activateTrigger, engineLogs } from '../helpers/n8nEngine';
import type { ActiveTrigger } from '../helpers/n8nEngine';
import { sleep } from '../helpers/wait';
import { FAULT_KINDS, HEAP_GROWTH_LIMIT_BYTES, Patience, cycleRows, faultCounts, injectFault, restQuiet, runCycles, until, withGenerousRestBudget, yieldToIo } from './helpers/chaos';
import type { FaultKind } from './helpers/chaos';
import { badFrame, settle as settleTrigger, warningLines } from './helpers/engine';
import { Ledger } from './helpers/ledger';
import { ChaosReport } from './helpers/report';

const report = new ChaosReport('Allfeat ATS');
const FAILING_SEQUENCE = ['validating', 'preparing_transaction', 'signing', 'failed'];

let emulator: AllfeatEmulator;

beforeEach(async () => {
	emulator = await AllfeatEmulator.start();
	engineLogs.clear();
});

afterEach(async () => {
	await emulator.close();
});

const credentials = () => ({ allfeatAtsApi: { baseUrl: emulator.baseUrl, apiKey: '', webhookSecret: '' } });
const activate = async (ids: string[]) =>
	await activateTrigger({ nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: ids.join(', '), steps: [] } as never, credentials: credentials() });
const stepOf = (item: IDataObject) => String(item.status);

/** Transactions on the emulator (one in ten failing at `signing`), each step written to the ledger. */
class TransactionDriver {
	readonly active: string[] = [];
	private readonly sequences = new Map<string, readonly string[]>();
	private created = 0;

	constructor(
		private readonly ledger: Ledger,
		private readonly window = 20,
		/** Called for every new transaction (e.g. to start a stream for it). */
		private readonly onCreate: (id: string) => void = () => undefined,
	) {}

	create(): string {
		const willFail = this.created++ % 10 === 9;
		const tx = emulator.createTransaction(willFail ? { failAt: 'signing' } : {});
		this.sequences.set(tx.id, willFail ? FAILING_SEQUENCE : ALLFEAT_STEP_SEQUENCE);
		this.ledger.produce(tx.id, tx.current_step, 0, false);
		this.active.push(tx.id);
		this.onCreate(tx.id);
		return tx.id;
	}

	advance(index: number): void {
		const id = this.active[index];
		const sequence = this.sequences.get(id) as readonly string[];
		const step = emulator.advance(id).current_step;
		const order = sequence.indexOf(step);
		const final = order === sequence.length - 1;
		this.ledger.produce(id, step, order, final);
		if (final) {
			this.active.splice(index, 1);
			this.sequences.delete(id);
		}
	}

	step(mayCreate = true): boolean {
		if (mayCreate && this.active.length < this.window) this.create();
		else if (this.active.length > 0) this.advance(Math.floor(Math.random() * this.active.length));
		else return false;
		return true;
	}
}

test('10,000 steps (about 1,750 transactions) across 100 forced disconnects of every kind: 0 lost, 0 duplicated, in order per transaction', async () => {
	const TRANSITIONS = 10_000;
	const DISCONNECTS = 100;
	const ledger = new Ledger(false);
	const logger = new CapturingLogger();
	const fatals: Error[] = [];
	const startFailures: Error[] = [];
	const client = withGenerousRestBudget(new AllfeatAtsApiClient(resolveAllfeatConnection(credentials().allfeatAtsApi)));
	const streams = new Map<string, AllfeatTransactionStream>();
	const starts: Array<Promise<void>> = [];
	const driver = new TransactionDriver(ledger, 20, (transactionId) => {
		const stream = new AllfeatTransactionStream({
			client,
			transactionId,
			onItem: (item) => ledger.deliver(item.id, item.status),
			onFatal: (error) => fatals.push(error),
			logger,
			keepAlive: { intervalMs: 50, timeoutMs: 250 },
			backoff: { initialMs: 2, maxMs: 20, factor: 2, stableAfterMs: 100 },
			sweepIntervalMs: 0,
		});
		streams.set(transactionId, stream);
		starts.push(stream.start().catch((error: Error) => void startFailures.push(error)));
	});
	const started = Date.now();
	const faults: FaultKind[] = [];
	let notSettled = 0;
	let notCaughtUp = 0;
	const patience = new Patience();
	// Every transaction still moving has its socket open again (a finished one needs none).
	const allBack = () => driver.active.every((id) => emulator.openConnectionCount(id) >= 1);
	try {
		const perCycle = TRANSITIONS / DISCONNECTS;
		for (let cycle = 0; cycle < DISCONNECTS; cycle++) {
			for (let i = 0; i < perCycle * 0.7; i++) {
				driver.step();
				if (i % 5 === 4) await yieldToIo();
			}
			if (!(await patience.until(() => ledger.settled() && allBack(), 5_000))) notSettled += 1;

			const kind = FAULT_KINDS[cycle % FAULT_KINDS.length];
			faults.push(kind);
			const cutOff = [...driver.active];
			ledger.beginDisruption();
			injectFault(emulator, kind);
			const back = () => cutOff.every((id) => !driver.active.includes(id) || emulator.openConnectionCount(id) >= 1);
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
		while (ledger.producedCount < TRANSITIONS) {
			driver.step();
			if (ledger.producedCount % 5 === 0) await yieldToIo();
		}
		while (driver.step(false)) if (ledger.producedCount % 5 === 0) await yieldToIo();
		await patience.until(() => ledger.settled() && ledger.caughtUp(), 10_000);
		await Promise.all(starts);
	} finally {
		await Promise.all([...streams.values()].map(async (stream) => await stream.close()));
	}

	const figures = ledger.figures();
	report.record('forced disconnects (stream class, one socket per transaction)', {
		'transactions (10% failing at signing)': figures.ids,
		'steps produced (the transitions)': figures.produced,
		'  of which while cut off': figures.producedWhileDisrupted,
		'items delivered': figures.delivered,
		...faultCounts(faults),
		'connections accepted (one per transaction + reconnects)': emulator.stats.connectionsAccepted,
		lost: figures.lost,
		duplicated: figures.duplicated,
		'out of order': figures.outOfOrder,
		'collapsed (none allowed: REST keeps every step)': figures.collapsed,
		'transactions without their final step': figures.unfinished,
		'fatal errors / failed starts': `${fatals.length} / ${startFailures.length}`,
		'sockets left open': emulator.openConnectionCount(),
		seconds: ((Date.now() - started) / 1000).toFixed(1),
	});
	expect(figures.examples).toEqual([]);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, unfinished: 0, collapsed: 0 });
	expect(figures.produced).toBeGreaterThanOrEqual(TRANSITIONS);
	expect(faults).toHaveLength(DISCONNECTS);
	expect(emulator.stats.connectionsAccepted).toBeGreaterThan(figures.ids + DISCONNECTS);
	expect({ notSettled, notCaughtUp, fatals: fatals.map((e) => e.message), startFailures: startFailures.map((e) => e.message) }).toEqual({
		notSettled: 0,
		notCaughtUp: 0,
		fatals: [],
		startFailures: [],
	});
});

// ----- in n8n's engine: the Allfeat ATS Trigger over several transactions ------------------------

const settle = async (trigger: ActiveTrigger, ledger: Ledger, timeoutMs?: number) => await settleTrigger(trigger, ledger, stepOf, timeoutMs);

const wronglyTyped = () => ({
	text: JSON.stringify({ type: 'update', step: 42, progress: 'half', timestamp: ['yesterday'] }),
	// The stream's line names the frame's type and field, not its content.
	marker: null,
});

test('1,000 malformed, oversized, unknown-type and wrongly-typed frames: no crash, each logged once and skipped, good frames still delivered', async () => {
	const IDS = 10;
	const ledger = new Ledger(false);
	const driver = new TransactionDriver(ledger, IDS);
	for (let i = 0; i < IDS; i++) driver.create();
	const ids = [...driver.active];
	const trigger = await activate(ids);
	const sent = new Map<string, number>();
	const markers: Array<RegExp | null> = [];
	let settled = false;
	try {
		await until(() => ids.every((id) => emulator.openConnectionCount(id) === 1), 5_000);
		settled = await settle(trigger, ledger);
		const goodEvery = Math.floor(1_000 / (IDS * 5));
		for (let i = 0; i < 1_000; i++) {
			const frame = badFrame(i, wronglyTyped);
			// To a transaction still moving (its socket is open): each bad frame reaches one socket.
			emulator.sendRawTo(driver.active[i % driver.active.length], frame.text);
			sent.set(frame.kind, (sent.get(frame.kind) ?? 0) + 1);
			markers.push(frame.marker);
			if (i % goodEvery === goodEvery - 1 && driver.active.length > 1) driver.step(false);
			if (i % 10 === 9) await yieldToIo();
		}
		while (driver.step(false));
		settled = (await settle(trigger, ledger)) && settled;
	} finally {
		await trigger.deactivate();
	}
	const warnings = warningLines(engineLogs.lines);
	const markedOnce = markers.filter((marker) => marker !== null && warnings.filter((m) => marker.test(m)).length === 1).length;
	const wronglyTypedLines = warnings.filter((m) => /skipped a frame of type "update"/.test(m)).length;
	const badFrameLines = warnings.filter((m) => /Skipped a frame that is not JSON|: skipped a /.test(m)).length;
	const figures = ledger.figures();
	report.record('bad frames (n8n engine, 10 transactions)', {
		'bad frames sent': 1_000,
		...Object.fromEntries([...sent].map(([kind, count]) => [`  ${kind}`, count])),
		'log lines for bad frames': badFrameLines,
		'bad frames logged exactly once': markedOnce + wronglyTypedLines,
		'bad frames skipped (no item, no reconnect)': 1_000 - figures.unexpected,
		'good steps interleaved': figures.produced,
		'good steps delivered': figures.delivered,
		'lost / duplicated / out of order': `${figures.lost} / ${figures.duplicated} / ${figures.outOfOrder}`,
		'connections (10 = never dropped)': emulator.stats.connectionsAccepted,
		'errors emitted': trigger.errors.length,
	});
	expect(settled).toBe(true);
	expect(figures.examples).toEqual([]);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, unfinished: 0 });
	expect(badFrameLines).toBe(1_000);
	expect(markedOnce).toBe(750);
	expect(wronglyTypedLines).toBe(250);
	expect(emulator.stats.connectionsAccepted).toBe(IDS);
	expect(trigger.errors).toEqual([]);
});

test('a rate-limited REST read (HTTP 429 with Retry-After) is honoured: no read of the host before it', async () => {
	const RETRY_AFTER_SECONDS = 3;
	// Reads of the other transactions already on their way when the 429 came are not retries.
	const IN_FLIGHT_MS = 100;
	const ledger = new Ledger(false);
	const driver = new TransactionDriver(ledger, 3);
	for (let i = 0; i < 3; i++) driver.create();
	const ids = [...driver.active];
	const readTimes: number[] = [];
	emulator.onRestRequest = () => readTimes.push(Date.now());
	emulator.failNextRestRequests(1, 429, RETRY_AFTER_SECONDS);
	const trigger = await activate(ids);
	let settled = false;
	try {
		settled = await settle(trigger, ledger, 10_000);
		while (driver.step(false));
		settled = (await settle(trigger, ledger)) && settled;
	} finally {
		await trigger.deactivate();
	}
	const refusedAt = readTimes[0];
	const tooEarly = readTimes.filter((t) => t > refusedAt + IN_FLIGHT_MS && t < refusedAt + RETRY_AFTER_SECONDS * 1000).length;
	const nextRead = readTimes.find((t) => t > refusedAt + IN_FLIGHT_MS);
	const figures = ledger.figures();
	report.record('rate limit (n8n engine, 3 transactions)', {
		'Retry-After on a REST read (s)': RETRY_AFTER_SECONDS,
		'next REST read of the host after (ms)': nextRead === undefined ? '(none)' : nextRead - refusedAt,
		'reads before Retry-After (in flight excepted)': tooEarly,
		'REST reads': readTimes.length,
		'steps produced / delivered': `${figures.produced} / ${figures.delivered}`,
		'errors emitted': trigger.errors.length,
	});
	expect(tooEarly).toBe(0);
	expect(nextRead).toBeDefined();
	expect((nextRead as number) - refusedAt).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000);
	expect(settled).toBe(true);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unfinished: 0 });
	expect(trigger.errors).toEqual([]);
});

test('the server closing at its maximum connection lifetime (1001 / 1000 close): seamless reconnect, nothing lost, no error', async () => {
	const IDS = 5;
	const ledger = new Ledger(false);
	const driver = new TransactionDriver(ledger, IDS);
	for (let i = 0; i < IDS; i++) driver.create();
	const ids = [...driver.active];
	const trigger = await activate(ids);
	// The emulator has no lifetime of its own: the server closes as one would at its limit.
	const closes = [
		[1001, 'Connection lifetime exceeded'],
		[1000, 'Maximum connection lifetime reached'],
	] as const;
	let settled = true;
	try {
		for (const [code, reason] of closes) {
			driver.step(false);
			settled &&= await settle(trigger, ledger);
			const accepted = emulator.stats.connectionsAccepted;
			ledger.beginDisruption();
			emulator.closeAllConnections(code, reason);
			driver.step(false);
			driver.step(false);
			await until(() => emulator.stats.connectionsAccepted >= accepted + driver.active.length && driver.active.every((id) => emulator.openConnectionCount(id) === 1), 10_000);
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
	report.record('max connection lifetime (n8n engine, 5 transactions)', {
		'lifetime closes (1001, 1000; every socket)': closes.length,
		'connections accepted': emulator.stats.connectionsAccepted,
		'steps produced / delivered': `${figures.produced} / ${figures.delivered}`,
		'lost / duplicated / out of order': `${figures.lost} / ${figures.duplicated} / ${figures.outOfOrder}`,
		'errors emitted': trigger.errors.length,
	});
	expect(settled).toBe(true);
	expect(figures.examples).toEqual([]);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unfinished: 0, collapsed: 0 });
	expect(trigger.errors).toEqual([]);
});

test('access refused mid-life (the host answers 401 on tracking): one clear error, no reconnect storm', async () => {
	// Allfeat's tracking routes take no key (the trigger sends none), so "revoked" is the host
	// refusing them from now on: upgrades and REST reads answered 401.
	const IDS = 3;
	const ledger = new Ledger(false);
	const driver = new TransactionDriver(ledger, IDS);
	for (let i = 0; i < IDS; i++) driver.create();
	const trigger = await activate([...driver.active]);
	let upgrades = 0;
	let restReads = 0;
	try {
		driver.step(false);
		await settle(trigger, ledger);
		emulator.onUpgradeRequest = () => upgrades++;
		emulator.setRefuseUpgrades(401);
		emulator.failNextRestRequests(1_000, 401);
		emulator.dropAllConnections();
		await trigger.waitForError(5_000).catch(() => undefined);
		// A read or upgrade already sent when the error came reaches the emulator a moment later: not a retry.
		await sleep(100);
		const upgradesAtError = upgrades;
		emulator.onRestRequest = () => restReads++;
		await sleep(3_000);
		upgrades -= upgradesAtError;
	} finally {
		await trigger.deactivate();
	}
	report.record('access refused mid-life (n8n engine, 3 transactions)', {
		'errors emitted': trigger.errors.length,
		error: trigger.errors[0]?.message ?? '(none)',
		'upgrade attempts in the 3 s after the error': upgrades,
		'REST reads in the 3 s after the error': restReads,
		'open connections left': emulator.openConnectionCount(),
	});
	expect(trigger.errors).toHaveLength(1);
	expect(trigger.errors[0].message).toMatch(/401/);
	expect(upgrades).toBeLessThanOrEqual(1);
	expect(restReads).toBeLessThanOrEqual(1);
	expect(emulator.openConnectionCount()).toBe(0);
});

test('1,000 activate/deactivate cycles: no open handles, no sockets left, a flat heap', async () => {
	const id = emulator.createTransaction().id;
	const figures = await runCycles(
		1_000,
		async () => {
			const trigger = await activate([id]);
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
