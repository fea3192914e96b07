/**
 * Kurier under chaos: All Jobs mode against the emulator's fault injection, at volume.
 * The forced-disconnect run drives the stream class itself (the trigger's parameters cannot shorten
 * keep-alive and backoff to chaos speed); everything else runs the Kurier Trigger in n8n's engine.
 */
import type { IDataObject } from 'n8n-workflow';

import { KURIER_STATUS_SEQUENCE_NO_CHAIN, KurierEmulator } from '../../emulators/kurier';
import { KurierApiClient, resolveKurierConnection } from '../../nodes/Kurier/KurierApiClient';
import { KurierJobStream } from '../../nodes/Kurier/KurierJobStream';
import { CapturingLogger } from '../helpers/logs';
import { activateTrigger, engineLogs } from '../helpers/n8nEngine';
import type { ActiveTrigger } from '../helpers/n8nEngine';
import { kurierTriggerSubject } from '../helpers/kurier';
import { sleep } from '../helpers/wait';
import { FAULT_KINDS, HEAP_GROWTH_LIMIT_BYTES, Patience, cycleRows, faultCounts, injectFault, restQuiet, runCycles, until, withGenerousRestBudget, yieldToIo } from './helpers/chaos';
import type { FaultKind } from './helpers/chaos';
import { badFrame, settle as settleTrigger, warningLines } from './helpers/engine';
import { Ledger } from './helpers/ledger';
import { ChaosReport } from './helpers/report';

const API_KEY = 'kurier-chaos-key-5d0b6e29a1';
const report = new ChaosReport('Kurier');
const FAILING_SEQUENCE = ['Queued', 'Valid', 'Failed'];

let emulator: KurierEmulator;

beforeEach(async () => {
	emulator = await KurierEmulator.start({ apiKeys: [API_KEY], jobListing: 'on' });
	engineLogs.clear();
});

afterEach(async () => {
	await emulator.close();
});

/** Jobs on the emulator, each transition written to the ledger with its place in the job's sequence. */
class JobDriver {
	readonly active: string[] = [];
	private readonly sequences = new Map<string, readonly string[]>();
	private created = 0;

	constructor(
		private readonly ledger: Ledger,
		private readonly window = 20,
	) {}

	create(): void {
		const willFail = this.created++ % 10 === 9;
		const job = emulator.createJob(API_KEY, { willFail });
		const sequence = willFail ? FAILING_SEQUENCE : KURIER_STATUS_SEQUENCE_NO_CHAIN;
		this.sequences.set(job.jobId, sequence);
		this.ledger.produce(job.jobId, 'Queued', 0, false);
		this.active.push(job.jobId);
	}

	advance(index: number): void {
		const jobId = this.active[index];
		const sequence = this.sequences.get(jobId) as readonly string[];
		const { status } = emulator.advance(jobId);
		const final = sequence.indexOf(status) === sequence.length - 1;
		this.ledger.produce(jobId, status, sequence.indexOf(status), final);
		if (final) {
			this.active.splice(index, 1);
			this.sequences.delete(jobId);
		}
	}

	/** One transition: a new job while fewer than `window` are moving (and `mayCreate`), else a step of a random one. */
	step(mayCreate = true): boolean {
		if (mayCreate && this.active.length < this.window) this.create();
		else if (this.active.length > 0) this.advance(Math.floor(Math.random() * this.active.length));
		else return false;
		return true;
	}
}

test('10,000 transitions across 100 forced disconnects of every kind: 0 lost, 0 duplicated, in order per job', async () => {
	const TRANSITIONS = 10_000;
	const DISCONNECTS = 100;
	const ledger = new Ledger(true);
	const driver = new JobDriver(ledger);
	const logger = new CapturingLogger();
	const fatals: Error[] = [];
	const client = withGenerousRestBudget(new KurierApiClient(resolveKurierConnection({ environment: 'custom', baseUrl: emulator.restBaseUrl, apiKey: API_KEY })));
	const stream = new KurierJobStream({
		client,
		target: { kind: 'allJobs' },
		onItem: (item) => ledger.deliver(item.id, item.status),
		onFatal: (error) => fatals.push(error),
		logger,
		keepAlive: { intervalMs: 50, timeoutMs: 250, pingFrame: { type: 'ping' } },
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
			// Connected: transitions interleaved with the frames they cause.
			for (let i = 0; i < perCycle * 0.7; i++) {
				driver.step();
				if (i % 5 === 4) await yieldToIo();
			}
			if (!(await patience.until(() => ledger.settled(), 5_000))) notSettled += 1;

			const kind = FAULT_KINDS[cycle % FAULT_KINDS.length];
			faults.push(kind);
			const subscribesBefore = emulator.stats.subscribeMessages;
			ledger.beginDisruption();
			injectFault(emulator, kind);
			// Transitions go on while the stream is cut off: some at once, some while it notices and reconnects.
			const back = () => emulator.openConnectionCount(API_KEY) >= 1 && emulator.stats.subscribeMessages > subscribesBefore;
			let during = 0;
			for (; during < perCycle * 0.15; during++) driver.step();
			while (!back() && during < perCycle * 0.3) {
				driver.step();
				during++;
				await sleep(3);
			}
			await patience.until(back, 10_000);
			if (!(await patience.until(() => ledger.caughtUp(), 10_000))) notCaughtUp += 1;
			await restQuiet(emulator);
			ledger.endDisruption();
			emulator.terminateFrozenConnections();
		}
		// Every job to its end, connected.
		while (ledger.producedCount < TRANSITIONS) driver.step();
		while (driver.step(false)) if (ledger.producedCount % 5 === 0) await yieldToIo();
		await patience.until(() => ledger.settled() && ledger.caughtUp(), 10_000);
	} finally {
		await stream.close();
	}

	const figures = ledger.figures();
	const warnings = logger.messages('warn');
	report.record('forced disconnects (stream class, All Jobs)', {
		'jobs (10% failing)': figures.ids,
		'transitions produced': figures.produced,
		'  of which while cut off': figures.producedWhileDisrupted,
		'items delivered': figures.delivered,
		...faultCounts(faults),
		'reconnects (connections accepted - 1)': emulator.stats.connectionsAccepted - 1,
		lost: figures.lost,
		duplicated: figures.duplicated,
		'out of order': figures.outOfOrder,
		'collapsed (passed while cut off; REST knows only the latest)': figures.collapsed,
		'jobs without their final status': figures.unfinished,
		'fatal errors': fatals.length,
		"'connection lost' warnings (one per disconnect)": warnings.filter((m) => m.includes('lost')).length,
		seconds: ((Date.now() - started) / 1000).toFixed(1),
	});
	expect(figures.examples).toEqual([]);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, unfinished: 0 });
	expect(figures.produced).toBeGreaterThanOrEqual(TRANSITIONS);
	expect(faults).toHaveLength(DISCONNECTS);
	expect(emulator.stats.connectionsAccepted).toBeGreaterThanOrEqual(DISCONNECTS + 1);
	expect({ notSettled, notCaughtUp, fatals: fatals.map((e) => e.message) }).toEqual({ notSettled: 0, notCaughtUp: 0, fatals: [] });
});

// ----- in n8n's engine: the Kurier Trigger, All Jobs -----------------------------------------

const ALL_JOBS = { event: 'allJobs', statuses: [] };

const statusOf = (item: IDataObject) => String(item.status);
const settle = async (trigger: ActiveTrigger, ledger: Ledger, timeoutMs?: number) => await settleTrigger(trigger, ledger, statusOf, timeoutMs);

const wronglyTyped = () => ({
	text: JSON.stringify({ type: 'job-status-update', data: { jobId: 42, status: ['Finalized'], statusId: 'four' } }),
	// Kurier's line names the frame's type and the field, not its content.
	marker: null,
});

test('1,000 malformed, oversized, unknown-type and wrongly-typed frames: no crash, each logged once and skipped, good frames still delivered', async () => {
	const ledger = new Ledger(false);
	const driver = new JobDriver(ledger, 10);
	const trigger = await activateTrigger(kurierTriggerSubject(emulator, API_KEY, ALL_JOBS));
	const sent = new Map<string, number>();
	const markers: Array<RegExp | null> = [];
	let settled = false;
	try {
		for (let i = 0; i < 1_000; i++) {
			const frame = badFrame(i, wronglyTyped);
			emulator.sendRawToAll(frame.text);
			sent.set(frame.kind, (sent.get(frame.kind) ?? 0) + 1);
			markers.push(frame.marker);
			// Good frames interleaved: one transition per two bad frames.
			if (i % 2 === 1) driver.step();
			if (i % 10 === 9) await yieldToIo();
		}
		while (driver.step(false));
		settled = await settle(trigger, ledger);
	} finally {
		await trigger.deactivate();
	}
	const warnings = warningLines(engineLogs.lines);
	// Each marked frame (not JSON, oversized, unknown type) has exactly one line naming it.
	const markedOnce = markers.filter((marker) => marker !== null && warnings.filter((m) => marker.test(m)).length === 1).length;
	const wronglyTypedLines = warnings.filter((m) => /frame of type "job-status-update"/.test(m)).length;
	const badFrameLines = warnings.filter((m) => /Skipped a frame that is not JSON|Kurier: skipped a /.test(m)).length;
	const figures = ledger.figures();
	report.record('bad frames (n8n engine)', {
		'bad frames sent': 1_000,
		...Object.fromEntries([...sent].map(([kind, count]) => [`  ${kind}`, count])),
		'log lines for bad frames': badFrameLines,
		'bad frames logged exactly once': markedOnce + wronglyTypedLines,
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
	expect(markedOnce).toBe(750);
	expect(wronglyTypedLines).toBe(250);
	expect(emulator.stats.connectionsAccepted).toBe(1);
	expect(trigger.errors).toEqual([]);
});

test('a rate-limit error frame (retryAfterSeconds) is honoured: the subscription is sent again no sooner', async () => {
	const RETRY_AFTER_SECONDS = 1;
	emulator.rateLimitNextSubscribes(1, RETRY_AFTER_SECONDS);
	const subscribeTimes: number[] = [];
	const watch = setInterval(() => {
		while (subscribeTimes.length < emulator.stats.subscribeMessages) subscribeTimes.push(Date.now());
	}, 1);
	const ledger = new Ledger(false);
	const driver = new JobDriver(ledger, 5);
	const trigger = await activateTrigger(kurierTriggerSubject(emulator, API_KEY, ALL_JOBS));
	let settled = false;
	try {
		await until(() => subscribeTimes.length >= 2, 5_000, 1);
		for (let i = 0; i < 100; i++) driver.step();
		while (driver.step(false));
		settled = await settle(trigger, ledger);
	} finally {
		clearInterval(watch);
		await trigger.deactivate();
	}
	const waitedMs = subscribeTimes[1] - subscribeTimes[0];
	const figures = ledger.figures();
	report.record('rate limit (n8n engine)', {
		'retryAfterSeconds asked': RETRY_AFTER_SECONDS,
		'subscribe sent again after (ms)': waitedMs,
		'subscribe messages': emulator.stats.subscribeMessages,
		'transitions after it delivered': `${figures.delivered} / ${figures.produced}`,
		'errors emitted': trigger.errors.length,
	});
	// The poll samples every ms: allow it that much.
	expect(waitedMs).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000 - 5);
	expect(emulator.stats.subscribeMessages).toBe(2);
	expect(settled).toBe(true);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
	expect(trigger.errors).toEqual([]);
});

test('the server closing at its maximum connection lifetime: seamless reconnect, nothing lost, no error', async () => {
	const ledger = new Ledger(true);
	const driver = new JobDriver(ledger, 10);
	const trigger = await activateTrigger(kurierTriggerSubject(emulator, API_KEY, ALL_JOBS));
	const expiries = [{}, { errorFrame: true }] as const;
	let settled = true;
	try {
		for (const expiry of expiries) {
			for (let i = 0; i < 100; i++) driver.step();
			settled &&= await settle(trigger, ledger);
			const accepted = emulator.stats.connectionsAccepted;
			ledger.beginDisruption();
			emulator.expireConnections(expiry);
			// Jobs go on (and new ones come) while the trigger reconnects after its backoff.
			for (let i = 0; i < 50; i++) driver.step();
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
		'lifetime closes (1008 reason; error frame + 1008)': expiries.length,
		reconnects: emulator.stats.connectionsAccepted - 1,
		'transitions produced / delivered': `${figures.produced} / ${figures.delivered}`,
		'lost / duplicated / out of order': `${figures.lost} / ${figures.duplicated} / ${figures.outOfOrder}`,
		collapsed: figures.collapsed,
		'errors emitted': trigger.errors.length,
	});
	expect(settled).toBe(true);
	expect(figures.examples).toEqual([]);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unfinished: 0 });
	expect(emulator.stats.connectionsAccepted).toBe(1 + expiries.length);
	expect(trigger.errors).toEqual([]);
});

test('a key revoked mid-life: one clear error, no reconnect storm', async () => {
	const ledger = new Ledger(false);
	const driver = new JobDriver(ledger, 5);
	const trigger = await activateTrigger(kurierTriggerSubject(emulator, API_KEY, ALL_JOBS));
	let upgrades = 0;
	try {
		for (let i = 0; i < 50; i++) driver.step();
		await settle(trigger, ledger);
		emulator.onUpgradeRequest = () => upgrades++;
		emulator.revokeKey(API_KEY);
		await trigger.waitForError(5_000).catch(() => undefined);
		// Long enough for a few reconnects with the trigger's own backoff (0.5 s, 1 s, 2 s…).
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
	expect(trigger.errors[0].message).toMatch(/refused the credentials/);
	expect(trigger.errors[0].message).not.toContain(API_KEY);
	expect(upgrades).toBeLessThanOrEqual(1);
	expect(emulator.openConnectionCount()).toBe(0);
});

test('1,000 activate/deactivate cycles: no open handles, no sockets left, a flat heap', async () => {
	const subject = kurierTriggerSubject(emulator, API_KEY, ALL_JOBS);
	const figures = await runCycles(
		1_000,
		async () => {
			const trigger = await activateTrigger(subject);
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
