/**
 * After n8n was killed: n8n saves a trigger's static data and stores the execution side by side at
 * each emit, so a kill between the two leaves a transition counted but never executed. When n8n 2.x
 * starts (activation `init`), the last transitions handed before the stop are offered again with
 * their own sequence and deduplication key: n8n refuses each one whose execution exists, and runs
 * the one a kill lost. A user's activation offers nothing again.
 */
import type { IDataObject } from 'n8n-workflow';

import { AllfeatEmulator } from '../emulators/allfeat';
import { KurierEmulator } from '../emulators/kurier';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { HANDED_TAIL_LENGTH, checkpointStoreOver, handedTailOver } from '../nodes/shared/checkpoints';
import { n8nRefusesRepeatedExecutions } from '../nodes/shared/n8n';
import { kurierTriggerSubject, submitProofOverRest } from './helpers/kurier';
import { TestScope } from './helpers/testScope';
import { staysTrue } from './helpers/wait';

const apiKey = 'crash-tail-kurier-key';
const ids = { workflow: 'wf-crash-tail', node: 'node-crash-tail' };
const scope = new TestScope();
let emulator: KurierEmulator;
beforeAll(async () => (emulator = await KurierEmulator.start({ apiKeys: [apiKey] })));
afterEach(async () => await scope.end());
afterAll(async () => await emulator.close());

const allJobs = (staticData: IDataObject, activation: 'init' | 'activate') => ({ ...kurierTriggerSubject(emulator, apiKey, { event: 'allJobs', statuses: [] }, staticData), ids, activation });
const statusesAndSequences = (items: IDataObject[]) => items.map((item) => `${String(item.status)}#${String(item.sequence)}`);

/** Two transitions of a job handed to n8n; answers the job, the static data and the keys of its executions. */
async function handTwoTransitions() {
	const staticData: IDataObject = {};
	const first = await scope.activate(allJobs(staticData, 'activate'));
	const jobId = await submitProofOverRest(emulator, apiKey);
	await first.waitForItems(1);
	emulator.advance(jobId);
	await first.waitForItems(2);
	await first.deactivate();
	return { jobId, staticData, keys: first.deduplicationKeys };
}

test('the engine under test is n8n 2.x, which refuses a repeated deduplication key', () => {
	expect(n8nRefusesRepeatedExecutions()).toBe(true);
});

test('every emit notes its transition in the handed tail before n8n saves the static data', async () => {
	const { jobId, staticData } = await handTwoTransitions();
	// n8n keeps a trigger's static data under its node ("node:<name>").
	const [nodeData] = Object.values(staticData) as Array<Record<string, unknown>>;
	expect(Object.keys(staticData)).toHaveLength(1);
	expect(handedTailOver(nodeData).entries()).toEqual([[jobId, { key: 'Valid', rank: expect.any(Number), final: false, sequence: 2 }]]);
	expect(checkpointStoreOver(nodeData).get(jobId)).toMatchObject({ key: 'Valid', sequence: 2 });
});

test('n8n starting: the last transition handed is offered again, with its own sequence and deduplication key', async () => {
	const { staticData, keys } = await handTwoTransitions();
	const restarted = await scope.activate(allJobs(staticData, 'init'));
	await restarted.waitForItems(1);
	await staysTrue(() => expect(restarted.items()).toHaveLength(1));
	expect(statusesAndSequences(restarted.items())).toEqual(['Valid#2']);
	// The same key as the execution n8n stored (or lost): 2.x refuses the one it has.
	expect(restarted.deduplicationKeys).toEqual([keys[1]]);
});

test('n8n starting after the job moved on: the newer status comes once, the handed one is not offered again', async () => {
	const { jobId, staticData } = await handTwoTransitions();
	emulator.advance(jobId);
	const restarted = await scope.activate(allJobs(staticData, 'init'));
	await restarted.waitForItems(1);
	await staysTrue(() => expect(restarted.items()).toHaveLength(1));
	expect(statusesAndSequences(restarted.items())).toEqual(['Submitted#3']);
});

test("a user's activation offers nothing again", async () => {
	const { staticData } = await handTwoTransitions();
	const reactivated = await scope.activate(allJobs(staticData, 'activate'));
	await staysTrue(() => expect(reactivated.items()).toEqual([]));
});

test('the tail keeps the newest transitions, one per id', () => {
	const container: Record<string, unknown> = {};
	const tail = handedTailOver(container, 3);
	for (let i = 1; i <= 5; i++) tail.note(`job-${i}`, { key: 'Queued', rank: 0, final: false, sequence: 1 });
	tail.note('job-4', { key: 'Valid', rank: 1, final: false, sequence: 2 });
	expect(tail.entries().map(([id, checkpoint]) => `${id}:${checkpoint.key}#${checkpoint.sequence}`)).toEqual(['job-3:Queued#1', 'job-5:Queued#1', 'job-4:Valid#2']);
	expect(HANDED_TAIL_LENGTH).toBeGreaterThan(0);
	// What n8n saves is plain JSON, read back the same.
	expect(handedTailOver(JSON.parse(JSON.stringify(container)) as Record<string, unknown>, 3).entries()).toEqual(tail.entries());
});

describe('Allfeat ATS: the step last handed before the stop, from the transaction\'s history', () => {
	let allfeat: AllfeatEmulator;
	beforeAll(async () => (allfeat = await AllfeatEmulator.start()));
	afterAll(async () => await allfeat.close());

	const following = (transactionId: string, staticData: IDataObject, activation: 'init' | 'activate') => ({
		nodeType: new AllfeatAtsTrigger(),
		parameters: { transactionIds: transactionId, steps: [] } as never,
		credentials: { allfeatAtsApi: { baseUrl: allfeat.baseUrl, apiKey: '' } },
		staticData,
		ids: { workflow: 'wf-crash-tail-allfeat', node: 'node-crash-tail-allfeat' },
		activation,
	});

	test('offered again at n8n\'s start with its own sequence and key, even after the transaction moved on; not at a user\'s activation', async () => {
		const registration = allfeat.createTransaction();
		const staticData: IDataObject = {};
		const first = await scope.activate(following(registration.id, staticData, 'activate'));
		await first.waitForItems(1);
		allfeat.advance(registration.id);
		await first.waitForItems(2);
		await first.deactivate();
		const [, handedStep] = first.items();
		const handedKey = first.deduplicationKeys[1];

		// Down: it moves on one step; the history still has the handed one.
		allfeat.advance(registration.id);
		const restarted = await scope.activate(following(registration.id, staticData, 'init'));
		await restarted.waitForItems(2);
		await staysTrue(() => expect(restarted.items()).toHaveLength(2));
		expect(statusesAndSequences(restarted.items())).toEqual([`${String(handedStep.status)}#2`, `${String(allfeat.getTransaction(registration.id)?.current_step)}#3`]);
		expect(restarted.deduplicationKeys[0]).toBe(handedKey);
		await restarted.deactivate();

		const reactivated = await scope.activate(following(registration.id, staticData, 'activate'));
		await staysTrue(() => expect(reactivated.items()).toEqual([]));
	});
});
