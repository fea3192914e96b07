import { kurierStatusRank } from '../../nodes/Kurier/protocol';
import { checkpointStoreOver, handedTailOver } from '../../nodes/shared/checkpoints';
import { selectedLines } from './harness/n8nLines';
import { waitUntil } from './harness/processes';
import { startScenario, stopScenario } from './harness/scenario';
import type { RunningScenario } from './harness/scenario';
import { itemsOf, submitKurierProofs, submitTachyonTransactions, transitionKey } from './harness/transitions';
import type { ExpectedTransitions } from './harness/transitions';
import { streamWorkflows } from './harness/workflows';

/**
 * Exactly once through n8n's lifecycle, in the real n8n: a restart of n8n with work moving while it
 * is down, and a save of an active workflow through n8n's REST API as the editor sends it. The
 * services move only when the test says (no clock), so what must arrive, and when, is exact.
 */
const DELIVERY_TIMEOUT_MS = 30_000;
/** After the expected items, how long to watch for one that must not come. */
const QUIET_MS = 3_000;
/** How long n8n may take to write the static data of the last emits (after their executions end). */
const SAVE_TIMEOUT_MS = 20_000;
/** How long Kurier stays away across n8n's start. */
const OUTAGE_MS = 60_000;

describe.each(selectedLines())('n8n %s: restarts and saves', (lineName) => {
	let scenario: RunningScenario;
	let kurierJob: ExpectedTransitions;
	let tachyonTx: ExpectedTransitions;
	/** A job submitted while Kurier's trigger is back from its outage (the last two tests). */
	let newJob: ExpectedTransitions;

	beforeAll(async () => {
		scenario = await startScenario({
			lineName,
			name: 'lifecycle',
			stepMs: 0,
			// One workflow per registration: n8n writes a workflow's static data in the background after
			// each emit, and two writes of one workflow in flight can land in the older order (see
			// the last test). Here each workflow has one emit at a time, and the test waits for its
			// write before moving on, so what n8n saved before a restart is known exactly.
			workflows: (sandbox, allfeatIds) => streamWorkflows((path) => sandbox.sink.url(path), allfeatIds, { allfeatWorkflowPerId: true }),
			connections: { kurier: 1, tachyon: 1 },
		});
		[kurierJob] = await submitKurierProofs(scenario.world, 1);
		[tachyonTx] = submitTachyonTransactions(scenario.world, 1);
	});

	afterAll(async () => await stopScenario(scenario));

	/**
	 * n8n writes a trigger's static data (its checkpoints: `sequence` per id) after the execution an
	 * emit started has ended, asynchronously; a stop before that write loses it (README: delivery
	 * promises). A user's restart is not that quick; the test waits until n8n's database holds each
	 * id's progress, as a fixed pause cannot promise on a busy machine.
	 */
	async function untilSaved(progress: Array<[ExpectedTransitions, number]>): Promise<void> {
		const { n8n, deployed } = scenario;
		const savedSequence = async (id: string) => {
			let highest = 0;
			for (const workflow of deployed) {
				const nodes = ((await n8n.savedStaticData(workflow)) ?? {}) as Record<string, Record<string, unknown> | undefined>;
				for (const node of Object.values(nodes)) highest = Math.max(highest, checkpointStoreOver(node ?? {}).get(id)?.sequence ?? 0);
			}
			return highest;
		};
		await waitUntil(
			`n8n to save the checkpoints ${progress.map(([expected, sequence]) => `${expected.id}#${sequence}`).join(', ')}`,
			async () => {
				for (const [expected, sequence] of progress) if ((await savedSequence(expected.id)) < sequence) return false;
				return true;
			},
			SAVE_TIMEOUT_MS,
		);
	}

	/** Every transition of the id at the sink so far, in arrival order: key#sequence. */
	const arrived = (expected: ExpectedTransitions) => itemsOf(scenario.world.sink, expected).map(({ item }) => `${transitionKey(item)}#${String(item.sequence)}`);
	const allfeat = () => scenario.allfeatStreamed[0];

	test('before: each id\'s first transitions arrive, numbered from 1', async () => {
		const { world } = scenario;
		await waitUntil('the first statuses', () => arrived(kurierJob).length === 1 && arrived(tachyonTx).length === 1 && scenario.allfeatStreamed.every((registration) => arrived(registration).length === 1), DELIVERY_TIMEOUT_MS);
		await untilSaved([[kurierJob, 1], [tachyonTx, 1], ...scenario.allfeatStreamed.map((registration): [ExpectedTransitions, number] => [registration, 1])]);
		world.kurier.advance(kurierJob.id);
		world.allfeat.advance(allfeat().id);
		await waitUntil('the first transitions', () => arrived(kurierJob).length === 2 && arrived(tachyonTx).length === 1 && arrived(allfeat()).length === 2, DELIVERY_TIMEOUT_MS);
		expect(arrived(kurierJob).sort()).toEqual(['Queued#1', 'Valid#2']);
		expect(arrived(tachyonTx)).toEqual(['NOT_PICKED_UP#0#1']);
		expect(arrived(allfeat()).sort()).toEqual(['preparing_transaction#2', 'validating#1']);
	});

	test('restart n8n with work moving while it is down: the missed transitions arrive once, nothing is delivered again', async () => {
		const { world, n8n } = scenario;
		await untilSaved([
			[kurierJob, 2],
			[tachyonTx, 1],
			[allfeat(), 2],
			...scenario.allfeatStreamed.slice(1).map((registration): [ExpectedTransitions, number] => [registration, 1]),
		]);
		await n8n.stop();
		// While n8n is down: the job and the transaction move two steps, the registration one.
		world.kurier.advance(kurierJob.id);
		world.kurier.advance(kurierJob.id);
		world.tachyon.advance(tachyonTx.id);
		world.tachyon.advance(tachyonTx.id);
		world.allfeat.advance(allfeat().id);
		await n8n.start();
		await waitUntil('the transitions missed while down', () => arrived(kurierJob).length === 3 && arrived(tachyonTx).length === 2 && arrived(allfeat()).length === 3, DELIVERY_TIMEOUT_MS);
		await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
		// Kurier's and Tachyon's REST know only the latest status: the one passed meanwhile collapses into it.
		expect(arrived(kurierJob).sort()).toEqual(['IncludedInBlock#3', 'Queued#1', 'Valid#2']);
		expect(arrived(tachyonTx)).toEqual(['NOT_PICKED_UP#0#1', 'EXECUTED#0#2']);
		// Allfeat's REST has the step history: the step missed comes with its own time.
		expect(arrived(allfeat()).sort()).toEqual(['preparing_transaction#2', 'signing#3', 'validating#1']);
		// The other registrations (at validating since the start) are not delivered again either.
		for (const other of scenario.allfeatStreamed.slice(1)) expect(arrived(other)).toEqual(['validating#1']);
	});

	test('save the active workflows through the REST API, as the editor does: nothing is delivered again, new steps arrive once', async () => {
		const { world, n8n } = scenario;
		for (const workflow of scenario.deployed) await n8n.saveAsEditor(workflow);
		await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
		expect(arrived(kurierJob)).toHaveLength(3);
		expect(arrived(allfeat())).toHaveLength(3);
		world.kurier.advance(kurierJob.id);
		world.allfeat.advance(allfeat().id);
		await waitUntil('the steps after the save', () => arrived(kurierJob).length === 4 && arrived(allfeat()).length === 4, DELIVERY_TIMEOUT_MS);
		await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
		expect(arrived(kurierJob).sort()).toEqual(['Finalized#4', 'IncludedInBlock#3', 'Queued#1', 'Valid#2']);
		expect(arrived(allfeat()).sort()).toEqual(['preparing_transaction#2', 'signing#3', 'submitting#4', 'validating#1']);
		expect(arrived(tachyonTx)).toHaveLength(2);
	});

	test('Kurier down while n8n starts: the other triggers start at once, the Kurier trigger listens within 10 s of its return', async () => {
		const { world, n8n } = scenario;
		await untilSaved([
			[kurierJob, 4],
			[allfeat(), 4],
		]);
		await n8n.stop();
		const port = await world.kurierDown();
		const downSince = Date.now();
		await n8n.start();
		// Tachyon's trigger did not wait for Kurier's: it is connected, and a new transaction arrives,
		// while Kurier is still down.
		await waitUntil('the Tachyon trigger to connect while Kurier is down', () => world.tachyon.openConnectionCount() === 1, DELIVERY_TIMEOUT_MS);
		const [laterTx] = submitTachyonTransactions(world, 1);
		await waitUntil('the Tachyon item while Kurier is down', () => arrived(laterTx).length === 1, DELIVERY_TIMEOUT_MS);
		await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - downSince))));
		await world.kurierBack(port);
		const backAt = Date.now();
		await waitUntil('the Kurier trigger to subscribe again', () => world.kurier.stats.subscribeMessages > 0, 15_000, { everyMs: 100 });
		const listeningAfterMs = Date.now() - backAt;
		expect(listeningAfterMs).toBeLessThan(10_000);
		[newJob] = await submitKurierProofs(world, 1);
		await waitUntil('the new job\'s first status', () => arrived(newJob).length === 1, DELIVERY_TIMEOUT_MS);
		expect(arrived(newJob)).toEqual(['Queued#1']);
		console.log(`n8n ${lineName}: Kurier down ${Math.round((backAt - downSince) / 1000)} s across n8n's start; its trigger listened ${listeningAfterMs} ms after Kurier was back`);
	});

	test('n8n kept an older save of the static data: 2.x refuses the repeated execution by its deduplication key; 1.x runs it again, with the same sequence', async () => {
		const { world, n8n, deployed } = scenario;
		const kurierWorkflow = deployed.find((workflow) => workflow.name.includes('Kurier Trigger'));
		if (!kurierWorkflow) throw new Error('no Kurier workflow deployed');
		await untilSaved([[newJob, 1]]);
		const olderSave = await n8n.savedStaticData(kurierWorkflow);
		world.kurier.advance(newJob.id);
		await waitUntil('the new job\'s second status', () => arrived(newJob).length === 2, DELIVERY_TIMEOUT_MS);
		await untilSaved([[newJob, 2]]);
		await n8n.stop();
		// What n8n's database holds when the write after Queued lands after the one after Valid.
		n8n.writeStaticDataWhileStopped(kurierWorkflow, olderSave);
		await n8n.start();
		// The trigger reads the job over REST, finds Valid past its checkpoint and emits it again (its
		// emit saves the checkpoint again: the database is right once more).
		await untilSaved([[newJob, 2]]);
		await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
		if (lineName === '2.x') {
			expect(arrived(newJob)).toEqual(['Queued#1', 'Valid#2']);
			expect(n8n.main?.log()).toContain('duplicate deduplication key');
		} else {
			expect(arrived(newJob)).toEqual(['Queued#1', 'Valid#2', 'Valid#2']);
		}
	});

	test('a kill lost an execution after n8n saved its checkpoint: at the next start 2.x offers that transition again and runs it once; 1.x offers nothing', async () => {
		const { world, n8n, deployed } = scenario;
		const kurierWorkflow = deployed.find((workflow) => workflow.name.includes('Kurier Trigger'));
		if (!kurierWorkflow) throw new Error('no Kurier workflow deployed');
		const before = arrived(newJob);
		const nextSequence = Math.max(...before.map((transition) => Number(transition.split('#')[1]))) + 1;
		await untilSaved([[newJob, nextSequence - 1]]);
		const saved = await n8n.savedStaticData(kurierWorkflow);
		await n8n.stop();
		// What a kill between n8n's save of the static data and its insert of the execution leaves:
		// the job moved on to Submitted, the trigger counted and noted it, no execution holds it.
		world.kurier.advance(newJob.id);
		const nodes = JSON.parse(JSON.stringify(saved)) as Record<string, Record<string, unknown>>;
		const [node] = Object.values(nodes);
		const lost = { key: 'Submitted', rank: kurierStatusRank('Submitted') ?? null, final: false, sequence: nextSequence };
		checkpointStoreOver(node).set(newJob.id, lost);
		handedTailOver(node).note(newJob.id, lost);
		n8n.writeStaticDataWhileStopped(kurierWorkflow, nodes);
		await n8n.start();
		if (lineName === '2.x') {
			await waitUntil('the lost transition, offered again', () => arrived(newJob).length === before.length + 1, DELIVERY_TIMEOUT_MS);
			await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
			expect(arrived(newJob)).toEqual([...before, `Submitted#${nextSequence}`]);
		} else {
			// n8n 1.x would run every offered transition again, also those whose execution exists.
			await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
			expect(arrived(newJob)).toEqual(before);
			// The trigger is back all the same: the job's next status arrives, numbered after the lost one.
			world.kurier.advance(newJob.id);
			await waitUntil('the job\'s next status', () => arrived(newJob).length === before.length + 1, DELIVERY_TIMEOUT_MS);
			expect(arrived(newJob)).toEqual([...before, `IncludedInBlock#${nextSequence + 1}`]);
		}
	});
});
