import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { KurierEmulator } from '../emulators/kurier';
import type { JobListingMode } from '../emulators/kurier/KurierEmulator';
import { kurierStatusRank } from '../nodes/Kurier/protocol';
import { checkpointStoreOver } from '../nodes/shared/checkpoints';
import { installedPackageTemplate } from '../test/e2e/harness/communityPackage';
import { N8nInstance } from '../test/e2e/harness/N8nInstance';
import type { CreatedWorkflow } from '../test/e2e/harness/N8nInstance';
import { E2E_WORK_DIR, n8nLine } from '../test/e2e/harness/n8nLines';
import { waitUntil } from '../test/e2e/harness/processes';
import { Sink } from '../test/e2e/harness/sink';
import { linear, packageNode, postItemNode } from '../test/e2e/harness/workflows';

/**
 * The Kurier All Jobs trigger in the real n8n 2.x CLI of the e2e harness (regular mode, SQLite),
 * against the Kurier emulator running in this process on 127.0.0.1. Not a test: it prints figures,
 * and ratios against a baseline measured in the same invocation, and never fails on them.
 *
 *   npm run bench:n8n        (builds, installs n8n 2.x if missing, runs this file)
 *
 * Figures:
 *   1. throughput, items/s at the sink, with 10,000 unfinished ids in the trigger's static data (B)
 *      against none (A), runs alternating A,B,A,B…; the median ratio B/A and its range
 *   2. catch-up after a restart with 10,000 open ids (100 moved and 40 created while n8n was down,
 *      REST limited to 150 requests/s per key): seconds from the start until every id was told by
 *      REST, and until every missed status reached the sink; `GET /jobs` on and off
 *   3. REST reads per hour for 10,000 open ids on a healthy socket (jobs moving normally, the REST
 *      check interval shortened, reads scaled to the default 5-minute interval), against today's
 *      18,000/h; every job moving, and 1 % stuck
 *   4. static data bytes per tracked id, as n8n saved it at the end of a figure-1 B run, against the
 *      old format ({checkpoints: {[uuid]: {k, r, f, s}}})
 *
 * Environment (all optional):
 *   BENCH_N8N_FIGURES=1,2,3    which figures to run (4 comes with 1)
 *   BENCH_N8N_IDS=10000        open ids in figures 1–3
 *   BENCH_N8N_PAIRS=3          A,B pairs in figure 1
 *   BENCH_N8N_FLOOR=1          figure 1: after each pair a run C, no tracked id but static data as
 *                              large as B's (n8n's own cost of saving it at every emit); 0: without
 *   BENCH_N8N_WINDOW_S=60      figure 1: the measuring window of each run
 *   BENCH_N8N_WARMUP_S=5       figure 1: driving before the window opens
 *   BENCH_N8N_IN_FLIGHT=100    figure 1: statuses offered ahead of the sink (keeps n8n saturated
 *                              without an unbounded backlog)
 *   BENCH_N8N_CATCHUP_S=20     figures 1 and 3: longest wait for the start-up catch-up before
 *                              measuring anyway (the figure says it was still going)
 *   BENCH_N8N_RESTART_S=100    figure 2: longest wait for coverage and delivery after a start
 *   BENCH_N8N_CHECK_MINUTES=0.5  figure 3: the trigger's REST Check Interval option
 *   BENCH_N8N_CHECK_WINDOWS=2  figure 3: the window, in check intervals
 *   BENCH_N8N_LOG_LEVEL=info   n8n's log level (its log: <e2e work folder>/bench-n8n-2.x/n8n.log)
 * Default runtime: about 20 minutes on 2 cores while every catch-up runs into its limit (as the
 * trigger before issue 21 does), less once they finish sooner: figure 1 about 11 minutes (six 60 s
 * windows, n8n restarts, up to half a minute for n8n to stop after a B run), figures 2 and 3 about 5
 * each. Uses the e2e work folder (bench-n8n-2.x) and ports of its own; one n8n at a time.
 */

const envNumber = (name: string, fallback: number): number => {
	const value = Number(process.env[name] ?? fallback);
	if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number >= 0, got ${process.env[name]}`);
	return value;
};
const FIGURES = new Set((process.env.BENCH_N8N_FIGURES ?? '1,2,3').split(',').map((figure) => figure.trim()));
const IDS = envNumber('BENCH_N8N_IDS', 10_000);
const PAIRS = Math.max(1, Math.round(envNumber('BENCH_N8N_PAIRS', 3)));
/** Figure 1 also runs C (n8n's floor, see throughputRun) after each pair; BENCH_N8N_FLOOR=0 leaves it out. */
const FLOOR = envNumber('BENCH_N8N_FLOOR', 1) !== 0;
const WINDOW_MS = envNumber('BENCH_N8N_WINDOW_S', 60) * 1000;
const WARMUP_MS = envNumber('BENCH_N8N_WARMUP_S', 5) * 1000;
const IN_FLIGHT = Math.max(1, envNumber('BENCH_N8N_IN_FLIGHT', 100));
const CATCHUP_MAX_MS = envNumber('BENCH_N8N_CATCHUP_S', 20) * 1000;
const RESTART_MAX_MS = envNumber('BENCH_N8N_RESTART_S', 100) * 1000;
const CHECK_MINUTES = envNumber('BENCH_N8N_CHECK_MINUTES', 0.5);
const CHECK_WINDOWS = envNumber('BENCH_N8N_CHECK_WINDOWS', 2);

/** Figure 2: what moves while n8n is down, and the service's per-key REST limit. */
const MOVED_WHILE_DOWN = 100;
const CREATED_WHILE_DOWN = 40;
const REST_LIMIT = { perSecond: 150, retryAfterSeconds: 1 };
/** Figure 3: today every open id is read once per check (5 min), capped by 5 reads/s per key. */
const TODAY_READS_PER_HOUR = 18_000;
const DEFAULT_CHECK_MINUTES = 5;
const STUCK_SHARE = 0.01;
/** The catch-up counts as done once REST reads stop for this long (or every id is covered). */
const QUIET_MS = 3_000;
const CONNECT_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 60_000;
/** Driver jobs kept open in figure 1: each status a frame, each frame an execution. */
const DRIVER_OPEN_JOBS = 50;
const DRIVER_TICK_MS = 20;
const MOVER_TICK_MS = 200;
/** After driving: n8n has finished its backlog once the sink is quiet this long. */
const DRAIN_QUIET_MS = 2_000;
const DRAIN_MAX_MS = 60_000;

const TRIGGER_NAME = 'Kurier Trigger';
/** Where n8n keeps a trigger node's static data (getWorkflowStaticData('node')). */
const NODE_KEY = `node:${TRIGGER_NAME}`;
const FINAL_NO_CHAIN = new Set(['Finalized', 'Failed']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const seconds = (ms: number | null) => (ms === null ? 'n/a' : `${fmt(ms / 1000, 1)} s`);
const median = (values: number[]) => {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const log = (line: string) => console.log(line);
/** n8n's CPU over a window, as a share of one core. */
const cpuShare = (before: number | null, after: number | null, windowMs: number) => (before === null || after === null ? 'n/a' : `${fmt(((after - before) / (windowMs / 1000)) * 100)} %`);
/**
 * `count` of `ids`, evenly spaced: a trigger that reads its ids in the order it stored them would
 * find the first ones at once, which would flatter it.
 */
const spread = (ids: readonly string[], count: number) => Array.from({ length: Math.min(count, ids.length) }, (_, i) => ids[Math.floor((i * ids.length) / count)]);

// ---- one n8n, one sink; a Kurier emulator, credential and workflow per scenario ---------------

/** One Kurier emulator with its own key, credential and Kurier Trigger workflow, active in n8n. */
interface Scenario {
	name: string;
	emulator: KurierEmulator;
	apiKey: string;
	workflow: CreatedWorkflow;
	/** The sink path the workflow posts its items to. */
	path: string;
}

/** REST requests that read jobs so far: job-status reads and `GET /jobs` pages (past the rate limit), and those refused with 429. */
function readsOf(scenario: Scenario): { status: number; listing: number; rateLimited: number } {
	const { jobStatusReads, jobListRequests, rateLimited } = scenario.emulator.stats;
	return { status: jobStatusReads, listing: jobListRequests, rateLimited };
}

interface TriggerSettings {
	statuses: string[];
	options: Record<string, unknown>;
}

class Bench {
	private current: Scenario | undefined;
	/** Items at the sink, per path (counted as they arrive: the sink's list grows to tens of thousands). */
	private readonly arrivals = new Map<string, number>();

	private constructor(
		readonly n8n: N8nInstance,
		readonly sink: Sink,
	) {
		sink.onArrival(() => {
			const last = sink.requests.at(-1);
			if (last) this.arrivals.set(last.path, (this.arrivals.get(last.path) ?? 0) + 1);
		});
	}

	static async start(): Promise<Bench> {
		const dir = join(E2E_WORK_DIR, 'bench-n8n-2.x');
		rmSync(dir, { recursive: true, force: true });
		// The template is packed once and then reused: packed again here, so n8n runs the build just made.
		rmSync(join(E2E_WORK_DIR, 'package-template'), { recursive: true, force: true });
		// info, as users run it: the harness's debug level costs n8n time at hundreds of items a second.
		const n8n = await N8nInstance.create({ line: n8nLine('2.x'), dir, packageTemplate: installedPackageTemplate(E2E_WORK_DIR), env: { N8N_LOG_LEVEL: process.env.BENCH_N8N_LOG_LEVEL ?? 'info' } });
		const sink = await Sink.start();
		const bench = new Bench(n8n, sink);
		await n8n.start();
		return bench;
	}

	/**
	 * CPU seconds n8n's main process has used so far (user + system, from /proc; Linux ticks of
	 * 1/100 s), or null where /proc cannot tell: whether n8n, not the bench, set the pace.
	 */
	cpuSeconds(): number | null {
		const pid = this.n8n.main?.child.pid;
		try {
			// Fields after the parenthesised command name: state is the 3rd field, utime the 14th, stime the 15th.
			const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
			return (Number(fields[11]) + Number(fields[12])) / 100;
		} catch {
			return null;
		}
	}

	arrived(path: string): number {
		return this.arrivals.get(path) ?? 0;
	}

	/** Items at the sink for `path`, each as posted (the trigger's normalized item). */
	items(path: string): Array<{ id: string; status: string }> {
		return this.sink.requestsTo(path).map((request) => request.body as { id: string; status: string });
	}

	/**
	 * A fresh emulator and key, `prepare` run on it before the trigger listens (jobs that exist
	 * before the trigger was ever up), then the workflow created and activated; the previous
	 * scenario's workflow is deactivated first, so one trigger runs at a time. One job goes through
	 * while the trigger is up, so n8n has saved the trigger's static data once, as after real use.
	 */
	async scenario(name: string, trigger: TriggerSettings, options: { jobListing?: JobListingMode; prepare?: (scenario: Omit<Scenario, 'workflow'>) => void } = {}): Promise<Scenario> {
		if (this.current) {
			const { workflow } = this.current;
			// n8n answers 503 "Database is not ready" for a while after heavy traffic: try again.
			await waitUntil(`n8n to deactivate ${this.current.name}`, async () => (await this.n8n.deactivate(workflow), true), CONNECT_TIMEOUT_MS, { everyMs: 1_000 });
			await this.current.emulator.close();
		}
		const apiKey = `bench-${randomUUID()}`;
		const emulator = await KurierEmulator.start({ apiKeys: [apiKey], stepMs: 0, jobListing: options.jobListing ?? 'off' });
		const path = `/bench/${name}`;
		const partial = { name, emulator, apiKey, path };
		options.prepare?.(partial);
		const credentialId = await this.n8n.createCredential(`Kurier (bench ${name})`, 'kurierApi', { environment: 'custom', baseUrl: emulator.restBaseUrl, apiKey });
		const nodes = [
			{ ...packageNode(TRIGGER_NAME, 'kurierTrigger', { event: 'allJobs', ...trigger }, 'kurierApi'), credentials: { kurierApi: { id: credentialId, name: `Kurier (bench ${name})` } } },
			postItemNode('To sink', this.sink.url(path), [260, 0]),
		];
		const workflow = await this.n8n.createWorkflow(linear(`Bench: Kurier Trigger (all jobs) → sink (${name})`, nodes));
		await this.n8n.activate(workflow);
		const scenario: Scenario = { ...partial, workflow };
		this.current = scenario;
		await this.untilConnected(scenario);
		// The one job through: Failed passes a `Failed`-only filter too.
		const { jobId } = emulator.createJob(apiKey, { willFail: trigger.statuses.length > 0 });
		emulator.advanceToEnd(jobId);
		await waitUntil(`the first job of ${name} at the sink`, () => this.items(path).some((item) => item.id === jobId && FINAL_NO_CHAIN.has(item.status)), CONNECT_TIMEOUT_MS);
		await waitUntil(`n8n to save the static data of ${name}`, async () => checkpointCount(await this.n8n.savedStaticData(workflow)) > 0, CONNECT_TIMEOUT_MS);
		return scenario;
	}

	/**
	 * Waits until nothing more arrives at `path` for DRAIN_QUIET_MS: a stop while n8n still runs a
	 * backlog of executions outlasts the harness's grace period and ends in a kill.
	 */
	async drained(path: string): Promise<void> {
		let last = -1;
		let since = Date.now();
		const deadline = Date.now() + DRAIN_MAX_MS;
		while (Date.now() - since < DRAIN_QUIET_MS && Date.now() < deadline) {
			if (this.arrived(path) !== last) {
				last = this.arrived(path);
				since = Date.now();
			}
			await sleep(100);
		}
	}

	/**
	 * A stop with a longer grace than the harness's 15 s: after a run with 10,000 checkpoints n8n
	 * can take longer to write what it holds (insights, static data), and a kill makes n8n 2.x
	 * activate the workflow only when its publication outbox is next polled, a minute after the start.
	 */
	async stopN8n(): Promise<void> {
		const main = this.n8n.main;
		if (!main?.isRunning) return;
		const began = Date.now();
		await main.stop(STOP_GRACE_MS);
		if (main.exitDescription.includes('SIGKILL')) log(`  (n8n did not stop within ${seconds(STOP_GRACE_MS)} and was killed)`);
		else if (Date.now() - began > 10_000) log(`  (n8n took ${seconds(Date.now() - began)} to stop)`);
	}

	/** Until the trigger's socket is subscribed to all jobs: a frame sent before that reaches no one. */
	async untilConnected(scenario: Scenario): Promise<void> {
		const subscribed = () => scenario.emulator.subscriptionsOf(scenario.apiKey).some((subscription) => subscription.all);
		await waitUntil(`the ${scenario.name} trigger to subscribe`, subscribed, CONNECT_TIMEOUT_MS, { everyMs: 50 });
	}

	/**
	 * Stops n8n, puts `staticData(saved)` in its database for the scenario's workflow, runs
	 * `whileDown`, starts n8n. Answers when the start began (the process spawned) and when the
	 * trigger was connected.
	 */
	async restart(scenario: Scenario, staticData: (saved: unknown) => unknown, whileDown: () => void = () => undefined): Promise<{ startedAt: number; restReadyAt: number; connectedAt: number }> {
		await this.stopN8n();
		this.n8n.writeStaticDataWhileStopped(scenario.workflow, staticData(this.n8n.readStaticDataWhileStopped(scenario.workflow)));
		whileDown();
		const startedAt = Date.now();
		await this.n8n.start();
		const restReadyAt = Date.now();
		await this.untilConnected(scenario);
		return { startedAt, restReadyAt, connectedAt: Date.now() };
	}

	async close(): Promise<void> {
		await this.stopN8n();
		await this.current?.emulator.close();
		await this.sink.close();
	}
}

/** How many ids a node's static data holds checkpoints for, read through the code's own store. */
function checkpointCount(staticData: unknown): number {
	const nodes = (staticData ?? {}) as Record<string, Record<string, unknown> | undefined>;
	return Object.values(nodes).reduce((sum, node) => sum + (node && typeof node === 'object' ? checkpointStoreOver(node).entries().length : 0), 0);
}

/**
 * Static data whose trigger node holds `ids` as unfinished at `status` (sequence: one per status up
 * to it), written through checkpoints.ts so it is whatever format the code stores. `base`: the
 * node's other saved fields to keep (its checkpoints and handed tail are replaced), or none.
 */
function withOpenCheckpoints(base: unknown, ids: readonly string[], status: string): Record<string, unknown> {
	const nodes = (base && typeof base === 'object' ? structuredClone(base) : {}) as Record<string, Record<string, unknown>>;
	const node = { ...(nodes[NODE_KEY] ?? {}) };
	delete node.checkpoints;
	delete node.handed;
	const rank = kurierStatusRank(status) ?? null;
	const store = checkpointStoreOver(node);
	for (const id of ids) store.set(id, { key: status, rank, final: false, sequence: (rank ?? 0) + 1 });
	nodes[NODE_KEY] = node;
	return nodes;
}

function difference(after: ReturnType<typeof readsOf>, before: ReturnType<typeof readsOf>): ReturnType<typeof readsOf> {
	return { status: after.status - before.status, listing: after.listing - before.listing, rateLimited: after.rateLimited - before.rateLimited };
}

interface CatchUp {
	/** What ended the wait: every id covered, REST quiet, or the time limit. */
	outcome: 'covered' | 'quiet' | 'limit';
	afterMs: number;
	covered: number;
}

/** Waits (from `since`) until REST has told every id, or REST reads stop for QUIET_MS after some, or `limitMs`. */
async function catchUp(scenario: Scenario, ids: readonly string[], since: number, limitMs: number): Promise<CatchUp> {
	const readsSoFar = () => readsOf(scenario).status + readsOf(scenario).listing;
	const readsBefore = readsSoFar();
	let lastReads = readsBefore;
	let lastChange = Date.now();
	for (;;) {
		const covered = countCovered(scenario, ids);
		const reads = readsSoFar();
		if (reads !== lastReads) {
			lastReads = reads;
			lastChange = Date.now();
		}
		const afterMs = Date.now() - since;
		if (covered === ids.length) return { outcome: 'covered', afterMs, covered };
		if (reads > readsBefore && Date.now() - lastChange >= QUIET_MS) return { outcome: 'quiet', afterMs: afterMs - QUIET_MS, covered };
		if (afterMs >= limitMs) return { outcome: 'limit', afterMs, covered };
		await sleep(250);
	}
}

function countCovered(scenario: Scenario, ids: readonly string[]): number {
	const covered = scenario.emulator.coveredJobIds();
	let count = 0;
	for (const id of ids) if (covered.has(id)) count += 1;
	return count;
}

function describeCatchUp(result: CatchUp, total: number): string {
	if (result.outcome === 'covered') return `catch-up done: all ${fmt(total)} ids covered after ${seconds(result.afterMs)}`;
	if (result.outcome === 'quiet') return `catch-up done: REST quiet after ${seconds(result.afterMs)}, ${fmt(result.covered)} of ${fmt(total)} ids covered`;
	return `catch-up NOT done after ${seconds(result.afterMs)} (${fmt(result.covered)} of ${fmt(total)} ids covered, ${fmt(result.covered / (result.afterMs / 1000), 1)}/s); measured anyway`;
}

// ---- figure 1 (and 4): throughput with 10,000 tracked ids against none ------------------------

/**
 * Offers the trigger statuses as fast as n8n takes them: jobs created and advanced (each status a
 * frame on the socket, an item, an execution), keeping IN_FLIGHT statuses ahead of the sink, so
 * n8n is always busy but its backlog stays bounded. Each driver job ends Finalized, so it does not
 * stay among the tracked unfinished ids.
 */
function drive(bench: Bench, scenario: Scenario): { stop(): void } {
	const { emulator, apiKey, path } = scenario;
	const base = bench.arrived(path);
	let produced = 0;
	let next = 0;
	const open: string[] = [];
	const timer = setInterval(() => {
		let room = IN_FLIGHT - (produced - (bench.arrived(path) - base));
		while (room-- > 0) {
			if (open.length < DRIVER_OPEN_JOBS) open.push(emulator.createJob(apiKey).jobId);
			else {
				next = (next + 1) % open.length;
				const { status } = emulator.advance(open[next]);
				if (FINAL_NO_CHAIN.has(status)) open.splice(next, 1);
			}
			produced += 1;
		}
	}, DRIVER_TICK_MS);
	return { stop: () => clearInterval(timer) };
}

interface ThroughputRun {
	label: 'A' | 'B' | 'C';
	itemsPerSecond: number;
	/** n8n's main process over the window, as a share of one core. */
	n8nCpu?: string;
	catchUp?: CatchUp;
	/** B: the static data n8n had saved at the end (JSON bytes), the ids it tracks, and the same checkpoints' bytes in the old format. */
	saved?: { bytes: number; ids: number; oldBytes: number };
}

/**
 * A: no tracked id. B: `tracked` unfinished ids in the static data. C: no tracked id, but the static
 * data as large as B's (a field no node reads): n8n saves a trigger's whole static data at every
 * emit, so C shows what n8n's own save of that many bytes costs, the floor B cannot beat.
 */
async function throughputRun(bench: Bench, scenario: Scenario, label: 'A' | 'B' | 'C', tracked: readonly string[]): Promise<ThroughputRun> {
	scenario.emulator.startCoverage();
	const staticDataOf = (): Record<string, unknown> => {
		if (label === 'A') return {};
		const withTracked = withOpenCheckpoints(undefined, tracked, 'IncludedInBlock');
		return label === 'B' ? withTracked : { [NODE_KEY]: { padding: 'x'.repeat(Buffer.byteLength(JSON.stringify(withTracked))) } };
	};
	const { connectedAt } = await bench.restart(scenario, staticDataOf);
	const run: ThroughputRun = { label, itemsPerSecond: 0 };
	if (label === 'B') run.catchUp = await catchUp(scenario, tracked, connectedAt, CATCHUP_MAX_MS);
	const driver = drive(bench, scenario);
	try {
		await sleep(WARMUP_MS);
		const before = bench.arrived(scenario.path);
		const cpuBefore = bench.cpuSeconds();
		const openedAt = Date.now();
		await sleep(WINDOW_MS);
		run.itemsPerSecond = (bench.arrived(scenario.path) - before) / ((Date.now() - openedAt) / 1000);
		run.n8nCpu = cpuShare(cpuBefore, bench.cpuSeconds(), Date.now() - openedAt);
	} finally {
		driver.stop();
	}
	await bench.drained(scenario.path);
	if (label === 'B') {
		const saved = await bench.n8n.savedStaticData(scenario.workflow);
		run.saved = { bytes: Buffer.byteLength(JSON.stringify(saved ?? {})), ids: checkpointCount(saved), oldBytes: oldFormatBytes(saved) };
	}
	const savedText = run.saved ? `; n8n saved ${fmt(run.saved.bytes)} bytes of static data for ${fmt(run.saved.ids)} ids` : '';
	log(`  run ${label}: ${fmt(run.itemsPerSecond, 1)} items/s (n8n CPU ${run.n8nCpu ?? 'n/a'})${run.catchUp ? ` (${describeCatchUp(run.catchUp, tracked.length)})` : ''}${savedText}`);
	return run;
}

/**
 * The same checkpoints in the format before this work, every id an object of short keys: 72 bytes
 * an id with a UUID at Queued, 81 at IncludedInBlock.
 */
function oldFormatBytes(staticData: unknown): number {
	const checkpoints: Record<string, { k: string; r: number | null; f: 0 | 1; s: number }> = {};
	for (const node of Object.values((staticData ?? {}) as Record<string, Record<string, unknown> | undefined>)) {
		if (!node || typeof node !== 'object') continue;
		for (const [id, checkpoint] of checkpointStoreOver(node).entries()) checkpoints[id] = { k: checkpoint.key, r: checkpoint.rank, f: checkpoint.final ? 1 : 0, s: checkpoint.sequence };
	}
	return Buffer.byteLength(JSON.stringify({ checkpoints }));
}

interface Figure1 {
	runs: ThroughputRun[];
	ratios: number[];
	/** C/A per triple: n8n's own cost of saving static data as large as B's at every emit. */
	floorRatios: number[];
	bytesPerId: number | null;
	savedIds: number;
	oldBytesPerId: number | null;
}

async function figure1(bench: Bench): Promise<Figure1> {
	log(`\n1. Throughput at the sink: ${fmt(IDS)} tracked unfinished ids (B) vs 0 (A); ${PAIRS} pairs, ${seconds(WINDOW_MS)} windows after ${seconds(WARMUP_MS)} warm-up`);
	let tracked: string[] = [];
	const scenario = await bench.scenario('throughput', { statuses: [], options: {} }, { prepare: ({ emulator, apiKey }) => (tracked = emulator.createJobs(apiKey, IDS, { status: 'IncludedInBlock' })) });
	const runs: ThroughputRun[] = [];
	const ratios: number[] = [];
	const floorRatios: number[] = [];
	for (let pair = 1; pair <= PAIRS; pair++) {
		const a = await throughputRun(bench, scenario, 'A', tracked);
		const b = await throughputRun(bench, scenario, 'B', tracked);
		runs.push(a, b);
		ratios.push(b.itemsPerSecond / a.itemsPerSecond);
		if (FLOOR) {
			const c = await throughputRun(bench, scenario, 'C', tracked);
			runs.push(c);
			floorRatios.push(c.itemsPerSecond / a.itemsPerSecond);
		}
	}
	const lastB = runs.filter((run) => run.label === 'B').at(-1)?.saved;
	const perId = (bytes: number | undefined) => (lastB && lastB.ids > 0 && bytes !== undefined ? bytes / lastB.ids : null);
	return { runs, ratios, floorRatios, bytesPerId: perId(lastB?.bytes), savedIds: lastB?.ids ?? 0, oldBytesPerId: perId(lastB?.oldBytes) };
}

// ---- figure 2: catch-up after a restart ---------------------------------------------------------

interface Figure2 {
	listing: JobListingMode;
	restReadyMs: number;
	connectedMs: number;
	coverage: { afterMs: number | null; covered: number };
	delivery: { afterMs: number | null; delivered: number };
	reads: { status: number; listing: number; rateLimited: number };
}

async function figure2(bench: Bench, listing: JobListingMode): Promise<Figure2> {
	let open: string[] = [];
	const scenario = await bench.scenario(`restart-listing-${listing}`, { statuses: [], options: {} }, { jobListing: listing, prepare: ({ emulator, apiKey }) => (open = emulator.createJobs(apiKey, IDS, { status: 'IncludedInBlock' })) });
	const { emulator, apiKey, path } = scenario;
	const expected = new Map<string, string>();
	let readsBefore = readsOf(scenario);
	const whileDown = () => {
		for (const id of spread(open, MOVED_WHILE_DOWN)) expected.set(id, emulator.advance(id, { silent: true }).status);
		for (const id of emulator.createJobs(apiKey, CREATED_WHILE_DOWN, { status: 'Finalized' })) expected.set(id, 'Finalized');
		emulator.setRestRateLimit(REST_LIMIT);
		emulator.startCoverage();
		readsBefore = readsOf(scenario);
	};
	const { startedAt, restReadyAt, connectedAt } = await bench.restart(scenario, (saved) => withOpenCheckpoints(saved, open, 'IncludedInBlock'), whileDown);
	const delivered = () => {
		const seen = new Set(bench.items(path).filter((item) => expected.get(item.id) === item.status).map((item) => item.id));
		return seen.size;
	};
	let coveredAt: number | null = null;
	let deliveredAt: number | null = null;
	while (Date.now() - startedAt < RESTART_MAX_MS && (coveredAt === null || deliveredAt === null)) {
		if (coveredAt === null && countCovered(scenario, open) === open.length) coveredAt = Date.now();
		if (deliveredAt === null && delivered() === expected.size) deliveredAt = Date.now();
		await sleep(100);
	}
	const result: Figure2 = {
		listing,
		restReadyMs: restReadyAt - startedAt,
		connectedMs: connectedAt - startedAt,
		coverage: { afterMs: coveredAt && coveredAt - startedAt, covered: countCovered(scenario, open) },
		delivery: { afterMs: deliveredAt && deliveredAt - startedAt, delivered: delivered() },
		reads: difference(readsOf(scenario), readsBefore),
	};
	emulator.setRestRateLimit(null);
	log(`  GET /jobs ${listing}: ${describeFigure2(result, open.length, expected.size)}`);
	return result;
}

function describeFigure2(r: Figure2, ids: number, expected: number): string {
	const limit = seconds(RESTART_MAX_MS);
	const coverage = r.coverage.afterMs !== null ? `all ${fmt(ids)} ids covered ${seconds(r.coverage.afterMs)} after the start` : `${fmt(r.coverage.covered)} of ${fmt(ids)} ids covered within ${limit}`;
	const delivery = r.delivery.afterMs !== null ? `all ${expected} missed statuses at the sink after ${seconds(r.delivery.afterMs)}` : `${r.delivery.delivered} of ${expected} missed statuses at the sink within ${limit}`;
	return `${coverage}; ${delivery} (n8n's REST up after ${seconds(r.restReadyMs)}, socket after ${seconds(r.connectedMs)}; ${fmt(r.reads.status)} job-status reads, ${fmt(r.reads.listing)} listing pages, ${fmt(r.reads.rateLimited)} answered 429)`;
}

// ---- figure 3: REST reads per hour with a healthy socket ---------------------------------------

interface Figure3 {
	stuckShare: number;
	catchUp: CatchUp;
	windowMs: number;
	n8nCpu: string;
	reads: { status: number; listing: number; rateLimited: number };
	moves: number;
	readsPerHourAtDefault: number;
}

/**
 * Moves the open jobs on the socket as normal traffic does: each job one status about half a
 * check interval after its previous one (drawn between 0.4 and 0.6 of it), a finished job replaced by
 * a new one, so the number open stays put; `stuck` jobs never move.
 */
function moveNormally(scenario: Scenario, open: readonly string[], stuck: ReadonlySet<string>, intervalMs: number): { stop(): void; moves(): number } {
	const { emulator, apiKey } = scenario;
	const delay = () => intervalMs * (0.4 + 0.2 * Math.random());
	const due = new Map<string, number>();
	const start = Date.now();
	for (const id of open) if (!stuck.has(id)) due.set(id, start + delay());
	let moves = 0;
	const timer = setInterval(() => {
		const now = Date.now();
		for (const [id, at] of due) {
			if (at > now) continue;
			moves += 1;
			if (FINAL_NO_CHAIN.has(emulator.advance(id).status)) {
				due.delete(id);
				due.set(emulator.createJob(apiKey).jobId, now + delay());
			} else due.set(id, now + delay());
		}
	}, MOVER_TICK_MS);
	return { stop: () => clearInterval(timer), moves: () => moves };
}

async function figure3(bench: Bench, stuckShare: number): Promise<Figure3> {
	const intervalMs = CHECK_MINUTES * 60_000;
	let open: string[] = [];
	// Queued, no chain: four moves to Finalized, no REST follow-up of aggregation in the count.
	const scenario = await bench.scenario(`reads-stuck-${stuckShare}`, { statuses: ['Failed'], options: { restCheckMinutes: CHECK_MINUTES } }, { prepare: ({ emulator, apiKey }) => (open = emulator.createJobs(apiKey, IDS, { status: 'Queued' })) });
	const stuck = new Set(spread(open, Math.round(open.length * stuckShare)));
	scenario.emulator.startCoverage();
	const { connectedAt } = await bench.restart(scenario, (saved) => withOpenCheckpoints(saved, open, 'Queued'));
	const mover = moveNormally(scenario, open, stuck, intervalMs);
	try {
		const caughtUp = await catchUp(scenario, open, connectedAt, CATCHUP_MAX_MS);
		const before = readsOf(scenario);
		const movesBefore = mover.moves();
		const cpuBefore = bench.cpuSeconds();
		const openedAt = Date.now();
		await sleep(CHECK_WINDOWS * intervalMs);
		const windowMs = Date.now() - openedAt;
		const n8nCpu = cpuShare(cpuBefore, bench.cpuSeconds(), windowMs);
		const reads = difference(readsOf(scenario), before);
		// The window is CHECK_WINDOWS check intervals: at the default interval it stands for that many times 5 minutes.
		const windowAtDefaultHours = (windowMs / intervalMs) * (DEFAULT_CHECK_MINUTES / 60);
		const result: Figure3 = { stuckShare, catchUp: caughtUp, windowMs, n8nCpu, reads, moves: mover.moves() - movesBefore, readsPerHourAtDefault: (reads.status + reads.listing) / windowAtDefaultHours };
		log(`  ${describeFigure3(result, open.length)}`);
		return result;
	} finally {
		mover.stop();
	}
}

function describeFigure3(r: Figure3, ids: number): string {
	const total = r.reads.status + r.reads.listing;
	const perSecond = total / (r.windowMs / 1000);
	// The trigger's read budget (5/s a key) does not scale with the interval: near it, the scaled figure is low.
	const capped = perSecond >= 4.5 ? ` [${fmt(perSecond, 1)} reads/s: at the 5/s read budget, so scaling to the default interval understates it]` : '';
	return (
		`${fmt(r.stuckShare * 100)} % stuck: ${fmt(r.readsPerHourAtDefault)} reads/h at the default 5-min interval (×${(r.readsPerHourAtDefault / TODAY_READS_PER_HOUR).toFixed(3)} of today's ${fmt(TODAY_READS_PER_HOUR)}/h); ` +
		`${fmt(r.reads.status)} job-status reads + ${fmt(r.reads.listing)} listing pages in ${seconds(r.windowMs)} (${fmt(r.windowMs / (CHECK_MINUTES * 60_000), 1)} check intervals), ${fmt(r.moves)} moves on the socket, n8n CPU ${r.n8nCpu}; ${describeCatchUp(r.catchUp, ids)}${capped}`
	);
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
	const began = Date.now();
	log(`n8n bench: Kurier All Jobs trigger in n8n ${n8nLine('2.x').version} (regular mode, SQLite), ${fmt(IDS)} open ids`);
	const bench = await Bench.start();
	const stop = () => void bench.close().finally(() => process.exit(130));
	process.once('SIGINT', stop);
	process.once('SIGTERM', stop);
	let f1: Figure1 | undefined;
	const f2: Figure2[] = [];
	const f3: Figure3[] = [];
	try {
		if (FIGURES.has('1')) f1 = await figure1(bench);
		if (FIGURES.has('2')) {
			log(`\n2. Catch-up after a restart: ${fmt(IDS)} open ids; while down ${MOVED_WHILE_DOWN} moved and ${CREATED_WHILE_DOWN} were created and finished; REST limited to ${REST_LIMIT.perSecond}/s a key (Retry-After ${REST_LIMIT.retryAfterSeconds})`);
			for (const listing of ['on', 'off'] as const) f2.push(await figure2(bench, listing));
		}
		if (FIGURES.has('3')) {
			log(`\n3. REST reads with a healthy socket: ${fmt(IDS)} open ids moving, status filter Failed, REST check every ${CHECK_MINUTES} min, window ${CHECK_WINDOWS} interval${CHECK_WINDOWS === 1 ? '' : 's'} after the catch-up`);
			for (const stuckShare of [0, STUCK_SHARE]) f3.push(await figure3(bench, stuckShare));
		}
	} finally {
		process.off('SIGINT', stop);
		process.off('SIGTERM', stop);
		await bench.close();
	}
	summary(f1, f2, f3);
	log(`\n(${seconds(Date.now() - began)} in all)`);
}

function summary(f1: Figure1 | undefined, f2: Figure2[], f3: Figure3[]): void {
	log('\nSummary');
	if (f1) {
		const a = f1.runs.filter((run) => run.label === 'A').map((run) => fmt(run.itemsPerSecond, 1));
		const b = f1.runs.filter((run) => run.label === 'B').map((run) => fmt(run.itemsPerSecond, 1));
		log(`  1. throughput: A (0 tracked) ${a.join(', ')} items/s; B (${fmt(IDS)} tracked) ${b.join(', ')} items/s; B/A median ×${median(f1.ratios).toFixed(2)} (×${Math.min(...f1.ratios).toFixed(2)}–×${Math.max(...f1.ratios).toFixed(2)}, ${f1.ratios.length} pairs)`);
		if (f1.floorRatios.length > 0) {
			const c = f1.runs.filter((run) => run.label === 'C').map((run) => fmt(run.itemsPerSecond, 1));
			log(`     n8n's floor: C (0 tracked, static data as large as B's) ${c.join(', ')} items/s; C/A median ×${median(f1.floorRatios).toFixed(2)} (×${Math.min(...f1.floorRatios).toFixed(2)}–×${Math.max(...f1.floorRatios).toFixed(2)}): what n8n's save of that much static data at every emit costs by itself`);
		}
	}
	for (const r of f2) {
		log(`  2. restart, GET /jobs ${r.listing}: every id covered after ${r.coverage.afterMs === null ? `> ${seconds(RESTART_MAX_MS)} (${fmt(r.coverage.covered)} of ${fmt(IDS)})` : seconds(r.coverage.afterMs)}; ` +
			`${MOVED_WHILE_DOWN} moved + ${CREATED_WHILE_DOWN} new at the sink after ${r.delivery.afterMs === null ? `> ${seconds(RESTART_MAX_MS)} (${r.delivery.delivered} of ${MOVED_WHILE_DOWN + CREATED_WHILE_DOWN})` : seconds(r.delivery.afterMs)}`);
	}
	for (const r of f3) {
		log(`  3. REST reads, ${fmt(r.stuckShare * 100)} % stuck: ${fmt(r.readsPerHourAtDefault)}/h at the default interval, ×${(r.readsPerHourAtDefault / TODAY_READS_PER_HOUR).toFixed(3)} of today's ${fmt(TODAY_READS_PER_HOUR)}/h`);
	}
	if (f1) {
		if (f1.bytesPerId === null || f1.oldBytesPerId === null) log('  4. static data: n/a (no checkpoints saved)');
		else log(`  4. static data: ${fmt(f1.bytesPerId, 1)} bytes per tracked id as n8n saved it (${fmt(f1.savedIds)} ids), vs ${fmt(f1.oldBytesPerId, 1)} bytes/id for the same checkpoints in the old format (×${(f1.bytesPerId / f1.oldBytesPerId).toFixed(2)})`);
	}
}

main().catch((error: unknown) => {
	console.error(error);
	process.exit(1);
});
