import { randomUUID } from 'node:crypto';

import { checkpointStoreOver } from '../../nodes/shared/checkpoints';

import type { ExecutionSummary } from './harness/N8nInstance';
import { selectedLines } from './harness/n8nLines';
import { waitUntil } from './harness/processes';
import { loadExample } from './harness/SandboxWorld';
import type { WorkflowJson } from './harness/SandboxWorld';
import { startScenario, stopScenario } from './harness/scenario';
import type { RunningScenario } from './harness/scenario';
import { linear, packageNode, postItemNode } from './harness/workflows';

/**
 * n8n killed, not stopped: SIGKILL to n8n's whole process group at random moments while Kurier jobs
 * move through two All Jobs triggers, several times, then a normal start. One workflow posts each
 * item at once (quick); the other waits 2 s first (as a Slack or mail call would), so a kill often
 * finds its executions running. Both name the example error workflow. What must hold afterwards,
 * read from n8n's own Executions list (its REST API) and the sink:
 * - every execution ends finished or crashed (n8n marks the ones running at a kill as crashed at
 *   its next start) and holds the one item it was started with; a crashed one counts only when it
 *   is found in the list with its item; what reached the sink is exactly what finished;
 * - each job's `sequence` numbers (what the trigger handed to n8n, counted) have no gap and its
 *   final status is in an execution, but for what a kill lost: n8n writes the trigger's checkpoint
 *   and inserts the execution side by side at each emit (1.x on SQLite: the execution, then its
 *   data), so a kill can leave a transition counted with no execution holding its item. Each such
 *   gap must come from a kill: nothing is lost after the last, normal start. The figures say how many;
 * - on 2.x no transition runs twice (1.x may run one again after a kill lost its static-data
 *   write, with the same `sequence`: README, delivery promises);
 * - statuses that moved while n8n was down arrive after the start;
 * - the error workflow (examples/crashed-execution-to-slack.json) posts the item of each crashed
 *   execution n8n recovers from its event log with a node that started and did not finish (both
 *   lines; n8n's ExecutionRecoveryService, then executeErrorWorkflow), and of no other.
 * The kill moments come from a seeded random: CRASH_E2E_SEED=<seed printed> replays a run's choices.
 */
const KILLS = 3;
const SLOW_WAIT_SECONDS = 2;
const DELIVERY_TIMEOUT_MS = 45_000;
const ERROR_WORKFLOW = loadExample('crashed-execution-to-slack.json');
const QUICK_PATH = '/crash/quick';
const SLOW_PATH = '/crash/slow';
const FINAL_STATUSES = new Set(['Finalized', 'Failed', 'Aggregated', 'AggregationPublished']);
/** Open jobs kept moving while n8n is up; a new job comes in when fewer are open. */
const OPEN_JOBS = 4;

interface CrashItem {
	source: string;
	id: string;
	status: string;
	sequence: number;
	/** When the trigger had the status's frame or REST answer. */
	receivedAt: string;
}

interface Figures {
	kills: number;
	transitions: number;
	executions: number;
	delivered: number;
	crashed: number;
	crashedWithoutData: number;
	crashedAfterDelivery: number;
	withoutExecution: number;
	duplicates: number;
}

/** mulberry32: a small seeded generator, so a failing run's kill moments can be replayed. */
function seededRandom(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function crashWorkflows(sinkUrl: (path: string) => string): WorkflowJson[] {
	const trigger = () => packageNode('Kurier Trigger', 'kurierTrigger', { event: 'allJobs', statuses: [] }, 'kurierApi');
	const settings = { executionOrder: 'v1', errorWorkflow: ERROR_WORKFLOW.name };
	const wait = {
		id: randomUUID(),
		name: `Wait ${SLOW_WAIT_SECONDS} s`,
		type: 'n8n-nodes-base.wait',
		typeVersion: 1.1,
		position: [260, 0] as [number, number],
		parameters: { resume: 'timeInterval', amount: SLOW_WAIT_SECONDS, unit: 'seconds' },
	};
	return [
		ERROR_WORKFLOW,
		{ ...linear('E2E crash: Kurier Trigger (all jobs) → sink', [trigger(), postItemNode('To sink', sinkUrl(QUICK_PATH), [260, 0])]), settings },
		{ ...linear(`E2E crash: Kurier Trigger (all jobs) → Wait ${SLOW_WAIT_SECONDS} s → sink`, [trigger(), wait, postItemNode('To sink', sinkUrl(SLOW_PATH), [520, 0])]), settings },
	];
}

/** The Kurier items anywhere in an execution's stored data (a crashed one holds its item in the stack it was started with). */
function kurierItemsIn(data: unknown): CrashItem[] {
	const found = new Map<string, CrashItem>();
	const visit = (value: unknown) => {
		if (typeof value !== 'object' || value === null) return;
		const record = value as Record<string, unknown>;
		if (record.source === 'kurier' && typeof record.id === 'string' && typeof record.status === 'string' && typeof record.sequence === 'number') {
			found.set(`${record.id}|${record.status}|${record.sequence}`, { source: 'kurier', id: record.id, status: record.status, sequence: record.sequence, receivedAt: String(record.receivedAt) });
			return;
		}
		for (const entry of Object.values(record)) visit(entry);
	};
	visit(data);
	return [...found.values()];
}

/** Whether n8n's log (from a start on) says it activated each workflow: 1.x "Activated workflow … (ID: id)", 2.x "Activated trigger node … {workflow: {id}}". */
function triggersActivated(log: string, workflows: Array<{ id: string }>): boolean {
	const lines = log.split('\n').filter((line) => line.includes('Activated workflow') || line.includes('Activated trigger node'));
	return workflows.every(({ id }) => lines.some((line) => line.includes(`(ID: ${id})`) || line.includes(`"id":"${id}"`)));
}

function describeFigures(f: Figures): string {
	return (
		`${f.kills} kills, ${f.transitions} transitions handed to n8n, ${f.executions} executions: ${f.delivered} finished (delivered), ` +
		`${f.crashed} crashed (${f.crashedWithoutData} of them without their data, ${f.crashedAfterDelivery} after their post), ` +
		`${f.withoutExecution} transitions with no execution holding their item (${f.crashedWithoutData} in an execution without data), ${f.duplicates} duplicates`
	);
}

/** The ids a Kurier trigger's saved static data holds checkpoints for. */
function savedJobIds(staticData: unknown): Set<string> {
	const nodes = (staticData ?? {}) as Record<string, Record<string, unknown> | undefined>;
	return new Set(Object.values(nodes).flatMap((node) => checkpointStoreOver(node ?? {}).entries().map(([id]) => id)));
}

describe.each(selectedLines())('n8n %s: killed with SIGKILL while jobs move', (lineName) => {
	const seed = Number(process.env.CRASH_E2E_SEED ?? Math.floor(Math.random() * 2 ** 31));
	const random = seededRandom(seed);
	let scenario: RunningScenario;

	beforeAll(async () => {
		console.log(`crash e2e, n8n ${lineName}: seed ${seed} (CRASH_E2E_SEED=${seed} replays it)`);
		scenario = await startScenario({
			lineName,
			name: 'crash',
			stepMs: 0,
			workflows: (sandbox) => crashWorkflows((path) => sandbox.sink.url(path)),
			connections: { kurier: 1, tachyon: 0 },
		});
	});

	afterAll(async () => await stopScenario(scenario));

	test(`${KILLS} kills at random moments, then a normal start: every transition handed to n8n is one execution, finished or crashed`, async () => {
		const { n8n, world, deployed } = scenario;
		const [, quick, slow] = deployed;
		const apiKey = world.secrets.kurierApiKey;
		const jobs: string[] = [];
		const statusOf = (jobId: string) => world.kurier.getJob(jobId)!.status;
		const openJobs = () => jobs.filter((jobId) => !FINAL_STATUSES.has(statusOf(jobId)));
		const arrivedAt = (path: string) => world.sink.requestsTo(path).map((request) => request.body as CrashItem);
		const hasArrived = (path: string, jobId: string, status: string) => arrivedAt(path).some((item) => item.id === jobId && item.status === status);
		const pause = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms));
		const killedAt: number[] = [];
		const createdAt = new Map<string, number>();
		/** Starts n8n; resolves once n8n says it activated both Kurier workflows (it logs each). */
		const startAndWaitForTriggers = async (env: Record<string, string> = {}) => {
			const logFrom = n8n.main?.log().length ?? 0;
			await n8n.start(env);
			await waitUntil('n8n to activate both Kurier workflows', () => triggersActivated(n8n.main?.log().slice(logFrom) ?? '', [quick, slow]), DELIVERY_TIMEOUT_MS);
		};
		const moveOne = () => {
			const open = openJobs();
			if (open.length < OPEN_JOBS) {
				const jobId = world.kurier.createJob(apiKey, { willFail: random() < 0.25 }).jobId;
				jobs.push(jobId);
				createdAt.set(jobId, Date.now());
			}
			else world.kurier.advance(open[Math.floor(random() * open.length)]);
		};

		for (let kill = 1; kill <= KILLS; kill++) {
			// Up: jobs come in and move at random moments, for a random while; then the kill.
			const upUntil = Date.now() + 1_000 + random() * 3_000;
			while (Date.now() < upUntil) {
				moveOne();
				await pause(50 + random() * 400);
			}
			await n8n.kill();
			killedAt.push(Date.now());
			// Down: some jobs move on (one or two steps: REST then shows only the latest). The trigger
			// reads at its start the jobs its saved checkpoints hold; one whose first item n8n had not
			// saved yet shows up with its next update (README: a job created and moved on while down).
			const known = savedJobIds(n8n.readStaticDataWhileStopped(quick));
			const movedWhileDown = new Map<string, string>();
			for (const jobId of openJobs()) {
				if (!known.has(jobId) || random() < 0.5) continue;
				world.kurier.advance(jobId);
				if (random() < 0.5) world.kurier.advance(jobId);
				movedWhileDown.set(jobId, statusOf(jobId));
			}
			await startAndWaitForTriggers();
			// What moved while n8n was down arrives after the start (the quick workflow shows it first).
			await waitUntil(
				`the ${movedWhileDown.size} statuses that moved while n8n was down (kill ${kill})`,
				() => [...movedWhileDown].every(([jobId, status]) => hasArrived(QUICK_PATH, jobId, status)),
				DELIVERY_TIMEOUT_MS,
			);
		}

		// After the last start: every job to its end, then n8n settles (no execution running).
		const finishedLast = openJobs();
		for (const jobId of finishedLast) {
			while (!FINAL_STATUSES.has(statusOf(jobId))) {
				world.kurier.advance(jobId);
				await pause(random() * 100);
			}
		}
		await waitUntil(
			'the final statuses of the jobs finished after the last start, at both workflows',
			() => finishedLast.every((jobId) => hasArrived(QUICK_PATH, jobId, statusOf(jobId)) && hasArrived(SLOW_PATH, jobId, statusOf(jobId))),
			DELIVERY_TIMEOUT_MS,
		);
		await waitUntil(
			'no execution of the two workflows new, running or unknown',
			async () => {
				for (const workflow of [quick, slow]) if ((await n8n.executions(workflow.id)).some(({ status }) => ['new', 'running', 'unknown'].includes(status))) return false;
				return true;
			},
			DELIVERY_TIMEOUT_MS,
		).catch(() => undefined); // the check below names any execution left unfinished

		const figures: Record<string, Figures> = {};
		const crashedExecutions: Array<{ id: string; crashError?: { name?: string; message?: string } }> = [];
		for (const [label, workflow, path] of [
			['quick', quick, QUICK_PATH],
			['slow (2 s)', slow, SLOW_PATH],
		] as const) {
			const list = await n8n.executions(workflow.id);
			const executions: Array<ExecutionSummary & { noData: boolean; items: CrashItem[]; crashError?: { name?: string; message?: string } }> = [];
			for (const summary of list) {
				// n8n 1.x on SQLite (its default legacy driver) inserts an execution and its data one
				// after the other: killed in between, the execution has no data (its REST read fails).
				const data = await n8n.execution(summary.id).then(({ data }) => data, () => undefined);
				executions.push({ ...summary, noData: data === undefined, items: kurierItemsIn(data), crashError: (data as { resultData?: { error?: { name?: string; message?: string } } } | undefined)?.resultData?.error });
			}
			const context = `${label} workflow (seed ${seed})`;
			const withData = executions.filter(({ noData }) => !noData);
			const withoutData = executions.filter(({ noData }) => noData);
			const byTransition = new Map<string, Array<{ execution: string; sequence: number; status: string }>>();
			for (const execution of withData) {
				for (const item of execution.items) {
					const key = `${item.id} ${item.status}`;
					byTransition.set(key, [...(byTransition.get(key) ?? []), { execution: execution.id, sequence: item.sequence, status: execution.status }]);
				}
			}
			const duplicates = [...byTransition].filter(([, runs]) => runs.length > 1);
			// Sequence numbers count what the trigger handed to n8n: a gap is one handed with no
			// execution holding it (none at all, or, on 1.x, one without its data). n8n writes the
			// checkpoint and inserts the execution (1.x: then its data) side by side at each emit: a
			// kill in between loses a transition handed just before it. So each one missing follows
			// its job's previous transition (or the job's creation) by less than the last kill:
			// after the normal start at the end, nothing may be lost.
			const missing: string[] = [];
			const afterTheLastKill: string[] = [];
			for (const jobId of jobs) {
				const received = new Map<number, number>();
				for (const execution of withData) for (const item of execution.items) if (item.id === jobId) received.set(item.sequence, Math.min(received.get(item.sequence) ?? Infinity, Date.parse(item.receivedAt)));
				const highest = Math.max(0, ...received.keys());
				const gaps = [...Array(highest).keys()].map((index) => index + 1).filter((sequence) => !received.has(sequence));
				if (!byTransition.has(`${jobId} ${statusOf(jobId)}`)) gaps.push(highest + 1);
				for (const sequence of gaps) {
					const previous = Math.max(createdAt.get(jobId) ?? 0, ...[...received].filter(([other]) => other < sequence).map(([, at]) => at));
					const what = `${jobId} #${sequence}${sequence > highest ? ` (${statusOf(jobId)}, final)` : ''}`;
					missing.push(what);
					if (previous > killedAt[killedAt.length - 1]) afterTheLastKill.push(what);
				}
			}
			const crashed = executions.filter(({ status }) => status === 'crashed');
			crashedExecutions.push(...crashed.map(({ id, crashError }) => ({ id, crashError })));
			const sinkItems = arrivedAt(path);
			const atSink = (item: CrashItem) => sinkItems.some((arrived) => arrived.id === item.id && arrived.status === item.status);
			const successful = executions.filter(({ status }) => status === 'success');
			figures[label] = {
				kills: KILLS,
				transitions: byTransition.size + missing.length,
				executions: executions.length,
				delivered: successful.length,
				crashed: crashed.length,
				crashedWithoutData: withoutData.length,
				crashedAfterDelivery: crashed.filter(({ items }) => items.some(atSink)).length,
				withoutExecution: missing.length,
				duplicates: duplicates.reduce((sum, [, runs]) => sum + runs.length - 1, 0),
			};
			console.log(`crash e2e, n8n ${lineName}, seed ${seed}, ${label} workflow: ${describeFigures(figures[label])}${missing.length ? `; without execution: ${missing.join(', ')}` : ''}`);

			// Every execution ends finished or crashed, and holds exactly one Kurier item (1.x: or no data).
			expect({ context, other: executions.filter(({ status }) => status !== 'success' && status !== 'crashed').map(({ id, status }) => `${id}: ${status}`) }).toEqual({ context, other: [] });
			expect({ context, withoutData: withoutData.filter(({ status }) => status !== 'crashed').map(({ id, status }) => `${id}: ${status}`) }).toEqual({ context, withoutData: [] });
			if (lineName === '2.x') expect({ context, withoutData: withoutData.map(({ id }) => id) }).toEqual({ context, withoutData: [] });
			expect({ context, itemless: withData.filter(({ items }) => items.length !== 1).map(({ id, items }) => `${id}: ${items.length} items`) }).toEqual({ context, itemless: [] });
			// What reached the sink is what finished (a crashed one may have posted before the kill).
			expect({ context, notAtSink: successful.filter(({ items }) => !items.some(atSink)).map(({ id }) => id) }).toEqual({ context, notAtSink: [] });
			expect({ context, sinkWithoutExecution: sinkItems.filter((arrived) => !byTransition.has(`${arrived.id} ${arrived.status}`)).map(({ id, status }) => `${id} ${status}`) }).toEqual({
				context,
				sinkWithoutExecution: [],
			});
			expect({ context, afterTheLastKill }).toEqual({ context, afterTheLastKill: [] });
			if (lineName === '2.x') {
				expect({ context, duplicates: duplicates.map(([key, runs]) => `${key}: ${runs.map(({ execution, status }) => `${execution} ${status}`).join(', ')}`) }).toEqual({ context, duplicates: [] });
			} else {
				// 1.x has no deduplication key: a transition run again carries the sequence it had the first time.
				for (const [key, runs] of duplicates) expect({ context, key, sequences: new Set(runs.map(({ sequence }) => sequence)).size }).toEqual({ context, key, sequences: 1 });
			}
		}

		// The error workflow: n8n runs it for a crashed execution it recovered from its event log with
		// a node that started and never finished (WorkflowCrashedError in the execution's data); one
		// it marks crashed with no such node gets no error, and no error workflow (both lines).
		const slackFor = (executionId: string) => world.sink.requestsTo('/slack').filter((request) => (request.body as { execution?: { id?: string } }).execution?.id === executionId);
		const withCrashError = crashedExecutions.filter(({ crashError }) => crashError !== undefined);
		let errorWorkflowRepeats = 0;
		await waitUntil(`the error workflow's message for each of ${withCrashError.length} crashed executions`, () => withCrashError.every(({ id }) => slackFor(id).length > 0), DELIVERY_TIMEOUT_MS);
		for (const { id, crashError } of crashedExecutions) {
			const messages = slackFor(id).map((request) => request.body as { item?: CrashItem; execution: { status: string } });
			// n8n reads its event log again at each start, and recovers (and reports) such an execution
			// again while the log still holds it: one message at least, more after later starts.
			expect({ id, crashError: crashError?.message, reported: messages.length > 0 }).toEqual({ id, crashError: crashError?.message, reported: crashError !== undefined });
			errorWorkflowRepeats += Math.max(0, messages.length - 1);
			for (const message of messages) {
				expect(message.execution.status).toBe('crashed');
				expect(message.item).toMatchObject({ source: 'kurier', id: expect.any(String), status: expect.any(String), sequence: expect.any(Number) });
			}
		}
		// The slow workflow is in its Wait node at most kills: n8n's event log has that node started.
		expect(withCrashError.length).toBeGreaterThan(0);
		expect(figures['slow (2 s)'].crashed).toBeGreaterThan(0);
		console.log(
			`crash e2e, n8n ${lineName}, seed ${seed}: ${KILLS} kills, ${jobs.length} jobs; error workflow: ${world.sink.requestsTo('/slack').length} messages for ${crashedExecutions.length} crashed executions (${withCrashError.length} recovered with a crashed node; ${errorWorkflowRepeats} repeated at a later start)`,
		);
	});

	/**
	 * Jobs created, and finished, while n8n was dead: the socket never showed them and no checkpoint
	 * names them. Where Kurier's `GET /jobs` answers, All Jobs lists at its start the jobs updated
	 * since it last emitted (kept with its checkpoints), so each arrives once, at its final status.
	 */
	test('jobs created and finished while n8n was dead arrive after its start, where GET /jobs lists them', async () => {
		const { n8n, world, deployed } = scenario;
		const [, quick, slow] = deployed;
		const statusOf = (jobId: string) => world.kurier.getJob(jobId)!.status;
		const arrivals = (path: string, jobId: string) => world.sink.requestsTo(path).filter((request) => (request.body as CrashItem).id === jobId).map((request) => (request.body as CrashItem).status);
		world.kurier.setJobListing('on');
		try {
			await n8n.kill();
			const whileDead = Array.from({ length: 40 }, () => world.kurier.createJob(world.secrets.kurierApiKey).jobId);
			for (const jobId of whileDead) world.kurier.advanceToEnd(jobId);
			const logFrom = n8n.main?.log().length ?? 0;
			await n8n.start();
			await waitUntil('n8n to activate both Kurier workflows', () => triggersActivated(n8n.main?.log().slice(logFrom) ?? '', [quick, slow]), DELIVERY_TIMEOUT_MS);
			await waitUntil(
				'the 40 jobs created and finished while n8n was dead, at both workflows',
				() => whileDead.every((jobId) => arrivals(QUICK_PATH, jobId).length > 0 && arrivals(SLOW_PATH, jobId).length > 0),
				DELIVERY_TIMEOUT_MS,
			);
			for (const jobId of whileDead) {
				expect(arrivals(QUICK_PATH, jobId)).toEqual([statusOf(jobId)]);
				expect(arrivals(SLOW_PATH, jobId)).toEqual([statusOf(jobId)]);
			}
		} finally {
			world.kurier.setJobListing('off');
		}
	});

	/**
	 * n8n can deactivate, at its start, a workflow whose last executions all crashed
	 * (N8N_WORKFLOW_AUTODEACTIVATION_ENABLED, off by default; the last
	 * N8N_WORKFLOW_AUTODEACTIVATION_MAX_LAST_EXECUTIONS, default 3, in ExecutionRecoveryService).
	 * It counts a stream trigger's crashed executions like any: one kill while three transitions wait
	 * in the slow workflow deactivates it, and its trigger stops until someone activates it again.
	 * The README says so; this checks it is what n8n does with this package's triggers.
	 */
	test('with auto-deactivation on, a kill while 3 executions of the slow workflow run deactivates it, and its trigger does not run', async () => {
		const { n8n, world, deployed } = scenario;
		const [, quick, slow] = deployed;
		const before = { quick: (await n8n.executions(quick.id)).length, slow: (await n8n.executions(slow.id)).length };
		// New jobs, one every 300 ms, until the slow workflow has 3 executions in its Wait and the
		// quick one none running: the kill then crashes the slow workflow's last 3 executions only.
		const created: string[] = [];
		await waitUntil(
			'three running executions of the slow workflow and none of the quick one',
			async () => {
				created.push(world.kurier.createJob(world.secrets.kurierApiKey).jobId);
				await new Promise((resolve) => setTimeout(resolve, 300));
				const running = async (workflow: { id: string }) => (await n8n.executions(workflow.id)).filter(({ status }) => status === 'running' || status === 'new').length;
				return (await running(slow)) >= 3 && (await running(quick)) === 0;
			},
			DELIVERY_TIMEOUT_MS,
			{ everyMs: 0 },
		);
		await n8n.kill();
		const logFrom = n8n.main?.log().length ?? 0;
		await n8n.start({ N8N_WORKFLOW_AUTODEACTIVATION_ENABLED: 'true' });
		await waitUntil('n8n to activate the quick workflow', () => triggersActivated(n8n.main?.log().slice(logFrom) ?? '', [quick]), DELIVERY_TIMEOUT_MS);
		// n8n recovers crashed executions after its REST API is up (its event bus starts later).
		const latest = async () => (await n8n.executions(slow.id)).slice(0, 3).map(({ status }) => status);
		await waitUntil('n8n to mark the 3 executions crashed', async () => (await latest()).every((status) => status === 'crashed'), DELIVERY_TIMEOUT_MS).catch(() => undefined);
		expect(await latest()).toEqual(['crashed', 'crashed', 'crashed']);
		expect((await n8n.executions(slow.id)).length).toBe(before.slow + created.length);
		expect((await n8n.executions(quick.id)).length).toBe(before.quick + created.length);
		expect(await n8n.isActive(slow)).toBe(false);
		expect(await n8n.isActive(quick)).toBe(true);
		expect(n8n.main?.log()).toContain(`Autodeactivated workflow ${slow.id} due to too many crashed executions`);
		// n8n recovers before it activates the workflows at its start: the trigger does not run.
		const after = world.kurier.createJob(world.secrets.kurierApiKey).jobId;
		await waitUntil('the quick workflow to run the new job', () => world.sink.requestsTo(QUICK_PATH).some((request) => (request.body as CrashItem).id === after), DELIVERY_TIMEOUT_MS);
		// Long enough for the slow workflow (its Wait, then its post) to have shown the job, had it run.
		await new Promise((resolve) => setTimeout(resolve, (SLOW_WAIT_SECONDS + 3) * 1000));
		expect(world.sink.requestsTo(SLOW_PATH).filter((request) => (request.body as CrashItem).id === after)).toEqual([]);
	});
});
