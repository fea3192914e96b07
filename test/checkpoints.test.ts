/**
 * Exactly once across activations: what a trigger emitted is kept in the workflow's static data
 * (n8n saves it with every emit and loads it at the next activation, after a restart, a save or a
 * reactivation). Here two activations share one static data object, as n8n's database would hand it
 * over; what moved in between is delivered once, nothing is delivered twice, and `sequence` counts on.
 */
import type { IDataObject } from 'n8n-workflow';

import { AllfeatEmulator } from '../emulators/allfeat';
import { KurierEmulator } from '../emulators/kurier';
import { TachyonEmulator } from '../emulators/tachyon';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { TachyonTrigger } from '../nodes/Tachyon/TachyonTrigger.node';
import { checkpointStoreOver } from '../nodes/shared/checkpoints';
import { activateTrigger, runManually } from './helpers/n8nEngine';
import type { NodeUnderTest } from './helpers/n8nEngine';
import { kurierTriggerSubject, submitProofOverRest } from './helpers/kurier';
import { staysTrue } from './helpers/wait';

function statusesAndSequences(items: IDataObject[]): string[] {
	return items.map((item) => `${String(item.status)}#${String(item.sequence)}`);
}

describe('Kurier Trigger (All Jobs) across a restart', () => {
	const apiKey = 'checkpoint-kurier-key';
	let emulator: KurierEmulator;
	beforeAll(async () => (emulator = await KurierEmulator.start({ apiKeys: [apiKey] })));
	afterAll(async () => await emulator.close());

	const submit = async (): Promise<string> => await submitProofOverRest(emulator, apiKey);

	test('statuses passed while n8n was down arrive once, earlier ones not again, sequence counts on', async () => {
		const staticData: IDataObject = {};
		const subject = kurierTriggerSubject(emulator, apiKey, { event: 'allJobs', statuses: [] }, staticData);
		const first = await activateTrigger(subject);
		const jobId = await submit();
		await first.waitForItems(1);
		emulator.advance(jobId);
		await first.waitForItems(2);
		await first.deactivate();
		expect(statusesAndSequences(first.items())).toEqual(['Queued#1', 'Valid#2']);

		// n8n is down: the job moves on twice (REST only knows the latest).
		emulator.advance(jobId);
		emulator.advance(jobId);

		const second = await activateTrigger(subject);
		await second.waitForItems(1);
		emulator.advance(jobId);
		await second.waitForItems(2);
		// Nothing wrongly re-emitted after the awaited items.
		await staysTrue(() => expect(second.items()).toHaveLength(2));
		await second.deactivate();
		expect(statusesAndSequences(second.items())).toEqual(['IncludedInBlock#3', 'Finalized#4']);

		// A third activation (a save, a reactivation): the job is final, nothing comes again.
		const third = await activateTrigger(subject);
		await staysTrue(() => expect(third.items()).toEqual([]));
		await third.deactivate();
		expect(third.items()).toEqual([]);
	});

	test('One Job: a job already final and emitted is not emitted again after a restart', async () => {
		const jobId = await submit();
		emulator.advanceToEnd(jobId);
		const staticData: IDataObject = {};
		const subject = kurierTriggerSubject(emulator, apiKey, { event: 'job', jobId, statuses: [] }, staticData);
		const first = await activateTrigger(subject);
		await first.waitForItems(1);
		await first.deactivate();
		expect(statusesAndSequences(first.items())).toEqual(['Finalized#1']);
		const second = await activateTrigger(subject);
		await staysTrue(() => expect(second.items()).toEqual([]));
		await second.deactivate();
		expect(second.items()).toEqual([]);
	});

	test('each emitted transition carries its own deduplication key for n8n, and the same one when n8n kept an older save', async () => {
		// n8n writes static data in the background after each emit; two writes in flight can land in
		// either order, leaving the older checkpoint in its database (see transitionExecutionKey).
		const ids = { workflow: 'wf-dedupe', node: 'node-dedupe' };
		const staticData: IDataObject = {};
		const first = await activateTrigger({ ...kurierTriggerSubject(emulator, apiKey, { event: 'allJobs', statuses: [] }, staticData), ids });
		const jobId = await submit();
		await first.waitForItems(1);
		const olderSave = JSON.parse(JSON.stringify(staticData)) as IDataObject; // what n8n writes
		emulator.advance(jobId);
		await first.waitForItems(2);
		await first.deactivate();
		expect(statusesAndSequences(first.items())).toEqual(['Queued#1', 'Valid#2']);
		const [queuedKey, validKey] = first.deduplicationKeys;
		expect(first.deduplicationKeys).toHaveLength(2);
		expect(queuedKey).toMatch(/^onchain-events:[\w-]{43}$/);
		expect(validKey).toMatch(/^onchain-events:[\w-]{43}$/);
		expect(validKey).not.toBe(queuedKey);
		for (const key of first.deduplicationKeys) {
			expect(key).not.toContain(jobId);
			expect(key).not.toContain(apiKey);
		}

		// Restarted on the older save: the tracker emits Valid again, with the key n8n already holds
		// (n8n 2.x refuses that execution; 1.x runs it, with the same sequence as before).
		const restarted = await activateTrigger({ ...kurierTriggerSubject(emulator, apiKey, { event: 'allJobs', statuses: [] }, olderSave), ids });
		await restarted.waitForItems(1);
		await staysTrue(() => expect(restarted.items()).toHaveLength(1));
		await restarted.deactivate();
		expect(statusesAndSequences(restarted.items())).toEqual(['Valid#2']);
		expect(restarted.deduplicationKeys).toEqual([validKey]);

		// The same job in another workflow (or another trigger node) is another execution.
		const elsewhere = await activateTrigger({ ...kurierTriggerSubject(emulator, apiKey, { event: 'job', jobId, statuses: [] }, {}), ids: { workflow: 'wf-other', node: ids.node } });
		await elsewhere.waitForItems(1);
		await elsewhere.deactivate();
		expect(elsewhere.items().map((item) => item.status)).toEqual(['Valid']);
		expect(elsewhere.deduplicationKeys).toHaveLength(1);
		expect(elsewhere.deduplicationKeys[0]).not.toBe(validKey);
	});

	test('"Execute step" neither reads nor writes the checkpoints', async () => {
		const jobId = await submit();
		emulator.advanceToEnd(jobId);
		const staticData: IDataObject = {};
		const subject = kurierTriggerSubject(emulator, apiKey, { event: 'job', jobId, statuses: [] }, staticData);
		const manual = await runManually(subject);
		expect(manual.items.map((item) => item.status)).toEqual(['Finalized']);
		expect(JSON.stringify(staticData)).not.toContain(jobId);
		// The active workflow still delivers the job's final status once.
		const active = await activateTrigger(subject);
		await active.waitForItems(1);
		await active.deactivate();
		expect(JSON.stringify(staticData)).toContain(jobId);
	});
});

describe('Allfeat ATS Trigger across a restart', () => {
	let emulator: AllfeatEmulator;
	beforeAll(async () => (emulator = await AllfeatEmulator.start()));
	afterAll(async () => await emulator.close());

	test('a finished registration is not replayed; an unfinished one resumes after its last emitted step', async () => {
		const finished = emulator.createTransaction();
		const unfinished = emulator.createTransaction();
		const staticData: IDataObject = {};
		const subject: NodeUnderTest = {
			nodeType: new AllfeatAtsTrigger(),
			parameters: { transactionIds: `${finished.id}\n${unfinished.id}`, steps: [] },
			credentials: { allfeatAtsApi: { baseUrl: emulator.baseUrl, apiKey: '', webhookSecret: '' } },
			staticData,
		};
		emulator.advanceToEnd(finished.id);
		emulator.advance(unfinished.id);
		const first = await activateTrigger(subject);
		// 6 steps of the finished one, 2 of the unfinished one (history read at connect).
		await first.waitForItems(8);
		await staysTrue(() => expect(first.items()).toHaveLength(8));
		await first.deactivate();
		expect(first.items()).toHaveLength(8);

		// Down: the unfinished one moves two steps.
		emulator.advance(unfinished.id);
		emulator.advance(unfinished.id);
		const second = await activateTrigger(subject);
		await second.waitForItems(2);
		await staysTrue(() => expect(second.items()).toHaveLength(2));
		await second.deactivate();
		const items = second.items();
		expect(items.map((item) => `${String(item.id)}:${String(item.status)}#${String(item.sequence)}`)).toEqual([
			`${unfinished.id}:signing#3`,
			`${unfinished.id}:submitting#4`,
		]);
	});
});

test('Allfeat: a not_found item after a restart is no transition: n8n gets no deduplication key for it (not the last step\'s)', async () => {
	const [known, elsewhere] = [await AllfeatEmulator.start(), await AllfeatEmulator.start()];
	try {
		const registration = known.createTransaction();
		const ids = { workflow: 'wf-allfeat-dedupe', node: 'node-allfeat-dedupe' };
		const staticData: IDataObject = {};
		const subjectOn = (emulator: AllfeatEmulator): NodeUnderTest => ({
			nodeType: new AllfeatAtsTrigger(),
			parameters: { transactionIds: registration.id, steps: [] },
			credentials: { allfeatAtsApi: { baseUrl: emulator.baseUrl, apiKey: '', webhookSecret: '' } },
			staticData,
			ids,
		});
		const first = await activateTrigger(subjectOn(known));
		await first.waitForItems(1);
		await first.deactivate();
		expect(first.items().map((item) => item.status)).toEqual(['validating']);
		expect(first.deduplicationKeys[0]).toMatch(/^onchain-events:/);

		// The credential now names another host, which does not know the id.
		const restarted = await activateTrigger(subjectOn(elsewhere));
		await restarted.waitForItems(1);
		await restarted.deactivate();
		expect(restarted.items().map((item) => item.status)).toEqual(['not_found']);
		expect(restarted.deduplicationKeys).toEqual([undefined]);
	} finally {
		await known.close();
		await elsewhere.close();
	}
});

describe('Tachyon Trigger across a restart', () => {
	const account = { apiKey: 'checkpoint-tachyon-key', dashboardJwt: 'checkpoint-jwt', wsKey: 'ws_checkpoint_key' };
	let emulator: TachyonEmulator;
	beforeAll(async () => (emulator = await TachyonEmulator.start({ accounts: [account] })));
	afterAll(async () => await emulator.close());

	test('a transaction seen before the restart and finished while down is delivered once', async () => {
		const staticData: IDataObject = {};
		const subject: NodeUnderTest = {
			nodeType: new TachyonTrigger(),
			parameters: { statuses: [], txIds: '', chainIds: '' },
			credentials: { tachyonApi: { baseUrl: emulator.baseUrl, apiKey: account.apiKey, dashboardJwt: '', wsUrl: emulator.wsUrl, wsKey: account.wsKey } },
			staticData,
		};
		const first = await activateTrigger(subject);
		const tx = emulator.submit(account.apiKey, { chainId: 8453 });
		await first.waitForItems(1);
		await first.deactivate();
		expect(statusesAndSequences(first.items())).toEqual(['NOT_PICKED_UP#1']);
		emulator.advance(tx.id);
		emulator.advance(tx.id);
		const second = await activateTrigger(subject);
		await second.waitForItems(1);
		await staysTrue(() => expect(second.items()).toHaveLength(1));
		await second.deactivate();
		expect(statusesAndSequences(second.items())).toEqual(['EXECUTED#2']);
	});
});

test('the store stays within its bounds, dropping the oldest finished ids first', () => {
	const container: Record<string, unknown> = {};
	const store = checkpointStoreOver(container, { unfinished: 3, finished: 2 });
	for (let i = 0; i < 4; i++) store.set(`done-${i}`, { key: 'Finalized', rank: 4, final: true, sequence: 5 });
	for (let i = 0; i < 5; i++) store.set(`open-${i}`, { key: 'Queued', rank: 0, final: false, sequence: 1 });
	expect(store.entries().map(([id]) => id)).toEqual(['done-2', 'done-3', 'open-2', 'open-3', 'open-4']);
});
