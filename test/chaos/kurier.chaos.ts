/**
 * Kurier under chaos: All Jobs mode against the emulator's fault injection, at volume.
 * The forced-disconnect run drives the stream class itself (the trigger's parameters cannot shorten
 * keep-alive and backoff to chaos speed); everything else runs the Kurier Trigger in n8n's engine.
 */
import { KURIER_STATUS_SEQUENCE_NO_CHAIN, KurierEmulator } from '../../emulators/kurier';
import { KurierApiClient, resolveKurierConnection } from '../../nodes/Kurier/KurierApiClient';
import { KurierJobStream } from '../../nodes/Kurier/KurierJobStream';
import { CapturingLogger } from '../helpers/logs';
import { activateTrigger, engineLogs } from '../helpers/n8nEngine';
import type { ActiveTrigger } from '../helpers/n8nEngine';
import { kurierTriggerSubject } from '../helpers/kurier';
import { sleep } from '../helpers/wait';
import { FAULT_KINDS, HEAP_GROWTH_LIMIT_BYTES, cycleRows, faultCounts, injectFault, restQuiet, runCycles, until, withGenerousRestBudget, yieldToIo } from './helpers/chaos';
import type { FaultKind } from './helpers/chaos';
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
	try {
		await stream.start();
		const perCycle = TRANSITIONS / DISCONNECTS;
		for (let cycle = 0; cycle < DISCONNECTS; cycle++) {
			// Connected: transitions interleaved with the frames they cause.
			for (let i = 0; i < perCycle * 0.7; i++) {
				driver.step();
				if (i % 5 === 4) await yieldToIo();
			}
			if (!(await until(() => ledger.settled(), 5_000))) notSettled += 1;

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
			await until(back, 10_000);
			if (!(await until(() => ledger.caughtUp(), 10_000))) notCaughtUp += 1;
			await restQuiet(emulator);
			ledger.endDisruption();
			emulator.terminateFrozenConnections();
		}
		// Every job to its end, connected.
		while (ledger.producedCount < TRANSITIONS) driver.step();
		while (driver.step(false)) if (ledger.producedCount % 5 === 0) await yieldToIo();
		await until(() => ledger.settled() && ledger.caughtUp(), 10_000);
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
		'reconnect-lost warnings logged': warnings.filter((m) => m.includes('lost')).length,
		seconds: ((Date.now() - started) / 1000).toFixed(1),
	});
	expect(figures.examples).toEqual([]);
	expect(figures).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, unfinished: 0 });
	expect(figures.produced).toBeGreaterThanOrEqual(TRANSITIONS);
	expect(faults).toHaveLength(DISCONNECTS);
	expect(emulator.stats.connectionsAccepted).toBeGreaterThanOrEqual(DISCONNECTS + 1);
	expect({ notSettled, notCaughtUp, fatals: fatals.map((e) => e.message) }).toEqual({ notSettled: 0, notCaughtUp: 0, fatals: [] });
});
