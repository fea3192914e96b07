/**
 * Exactly once across activations: what a trigger emitted is kept in the workflow's static data
 * (n8n saves it with every emit and loads it at the next activation, after a restart, a save or a
 * reactivation). Here two activations share one static data object, as n8n's database would hand it
 * over; what moved in between is delivered once, nothing is delivered twice, and `sequence` counts on.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import type { IDataObject } from 'n8n-workflow';

import { AllfeatEmulator } from '../emulators/allfeat';
import { KurierEmulator } from '../emulators/kurier';
import { TachyonEmulator } from '../emulators/tachyon';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { TachyonTrigger } from '../nodes/Tachyon/TachyonTrigger.node';
import { allfeatStepRank } from '../nodes/AllfeatAts/protocol';
import { kurierStatusRank } from '../nodes/Kurier/protocol';
import { TransitionTracker } from '../nodes/shared/TransitionTracker';
import { checkpointStoreOver, lastHeardOver } from '../nodes/shared/checkpoints';
import type { CheckpointStore, IdCheckpoint } from '../nodes/shared/checkpoints';
import { activateTrigger, runManually } from './helpers/n8nEngine';
import type { NodeUnderTest } from './helpers/n8nEngine';
import { kurierTriggerSubject, submitProofOverRest } from './helpers/kurier';
import { staysTrue } from './helpers/wait';

function statusesAndSequences(items: IDataObject[]): string[] {
	return items.map((item) => `${String(item.status)}#${String(item.sequence)}`);
}

/** The checkpoints of the trigger whose static data this is: n8n keeps it under its node ("node:<name>"). */
function checkpointsIn(staticData: IDataObject): CheckpointStore {
	const nodes = Object.values(staticData) as Array<Record<string, unknown>>;
	expect(nodes.length).toBeLessThanOrEqual(1);
	return checkpointStoreOver(nodes[0] ?? {});
}

describe('Kurier Trigger (All Jobs) across a restart', () => {
	const apiKey = 'checkpoint-kurier-key';
	let emulator: KurierEmulator;
	beforeAll(async () => (emulator = await KurierEmulator.start({ apiKeys: [apiKey] })));
	afterAll(async () => await emulator.close());

	const submit = async (): Promise<string> => await submitProofOverRest(emulator, apiKey);

	/** An All Jobs activation that emits a job's Queued and Valid, then stops: its subject (same static data) and the job. */
	async function twoTransitionsThenStop() {
		const staticData: IDataObject = {};
		const subject = kurierTriggerSubject(emulator, apiKey, { event: 'allJobs', statuses: [] }, staticData);
		const first = await activateTrigger(subject);
		const jobId = await submit();
		await first.waitForItems(1);
		emulator.advance(jobId);
		await first.waitForItems(2);
		await first.deactivate();
		expect(statusesAndSequences(first.items())).toEqual(['Queued#1', 'Valid#2']);
		return { staticData, subject, jobId };
	}

	test('statuses passed while n8n was down arrive once, earlier ones not again, sequence counts on', async () => {
		const { subject, jobId } = await twoTransitionsThenStop();

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

	test('upgraded from the format before issue 21: every checkpoint kept, nothing emitted again, the old format gone', async () => {
		const { staticData, subject, jobId } = await twoTransitionsThenStop();

		// What the previous version saved instead: the same progress in its own format.
		const [node] = Object.values(staticData) as Array<Record<string, unknown>>;
		node.checkpoints = oldFormatOf(checkpointStoreOver(node).entries());
		delete node.ckpt;
		expect(node.checkpoints).toEqual({ [jobId]: { k: 'Valid', r: 1, f: 0, s: 2 } });

		emulator.advance(jobId);
		const upgraded = await activateTrigger(subject);
		await upgraded.waitForItems(1);
		await staysTrue(() => expect(upgraded.items()).toHaveLength(1));
		await upgraded.deactivate();
		expect(statusesAndSequences(upgraded.items())).toEqual(['Submitted#3']);
		expect(Object.keys(node)).not.toContain('checkpoints');
		expect(checkpointStoreOver(node).get(jobId)).toEqual({ key: 'Submitted', rank: 2, final: false, sequence: 3 });
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
		expect(checkpointsIn(staticData).get(jobId)).toBeUndefined();
		// The active workflow still delivers the job's final status once.
		const active = await activateTrigger(subject);
		await active.waitForItems(1);
		await active.deactivate();
		expect(checkpointsIn(staticData).get(jobId)).toMatchObject({ key: 'Finalized', final: true, sequence: 1 });
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

/** The checkpoints in the JSON format before issue 21, as the previous version saved them. */
function oldFormatOf(entries: Array<[string, IdCheckpoint]>): Record<string, { k: string; r: number | null; f: 0 | 1; s: number }> {
	return Object.fromEntries(entries.map(([id, checkpoint]) => [id, { k: checkpoint.key, r: checkpoint.rank, f: checkpoint.final ? 1 : 0, s: checkpoint.sequence }]));
}

/** Through JSON, as n8n saves static data and hands it back at the next activation. */
function savedAndLoaded(container: Record<string, unknown>): Record<string, unknown> {
	return JSON.parse(JSON.stringify(container)) as Record<string, unknown>;
}

describe('the stored format', () => {
	const ids = [
		'2f1c9a4e-8b3d-4c7a-9e21-5d6f7a8b9c0d', // Kurier and Allfeat: lowercase UUIDs
		'68fa3450539a3c9d28bbca33', // Tachyon: 24-hex ObjectIds
		'2F1C9A4E-8B3D-4C7A-9E21-5D6F7A8B9C0D', // an uppercase UUID comes back uppercase
		'2f1c9a4e8b3d4c7a9e215d6f7a8b9c0d', // a UUID's hex without dashes is another id
		'job-1',
		'42',
		'0',
		'007',
		'abc',
		'',
		'~2f1c9a4e',
		'.aa',
		'with "quotes", \\ and é',
	];
	const checkpointOf = (i: number): IdCheckpoint => ({ key: `S${i % 3}`, rank: i % 2 === 0 ? i : null, final: i % 4 === 0, sequence: i + 1 });

	test('every id comes back exactly, in write order, also after a save and a load', () => {
		const container: Record<string, unknown> = {};
		const store = checkpointStoreOver(container);
		ids.forEach((id, i) => store.set(id, checkpointOf(i)));
		const expected = ids.map((id, i) => [id, checkpointOf(i)]);
		expect(store.entries()).toEqual(expected);
		for (const [id, checkpoint] of expected) expect(store.get(id as string)).toEqual(checkpoint);
		expect(checkpointStoreOver(savedAndLoaded(container)).entries()).toEqual(expected);
		expect(store.get('2f1c9a4e-8b3d-4c7a-9e21-5d6f7a8b9c0e')).toBeUndefined();
	});

	test('many ids: a handful of strings in the JSON, not a property each; rewrites move an id to the end, also after a load', () => {
		const container: Record<string, unknown> = {};
		const store = checkpointStoreOver(container);
		const many = Array.from({ length: 1_000 }, () => randomUUID());
		many.forEach((id, i) => store.set(id, checkpointOf(i)));
		const rewritten = many.filter((_id, i) => i % 3 === 0);
		rewritten.forEach((id, i) => store.set(id, checkpointOf(i + 5_000)));
		const order = [...many.filter((_id, i) => i % 3 !== 0), ...rewritten];
		expect(store.entries().map(([id]) => id)).toEqual(order);
		const loaded = checkpointStoreOver(savedAndLoaded(container));
		expect(loaded.entries().map(([id]) => id)).toEqual(order);
		expect(loaded.get(rewritten[1])).toEqual(checkpointOf(5_001));
		// n8n serializes static data through a proxy at every emit: its cost grows with properties, not bytes.
		const stored = JSON.parse(JSON.stringify(container)) as { ckpt: { ids: unknown[] } };
		expect(stored.ckpt.ids.length).toBeLessThanOrEqual(8);
		expect(stored.ckpt.ids.every((chunk) => typeof chunk === 'string')).toBe(true);
	});

	test('integer-like ids keep their place in write order, so eviction still drops the oldest', () => {
		const container: Record<string, unknown> = {};
		const store = checkpointStoreOver(container, { unfinished: 3, finished: 2 });
		for (const id of ['x', '7', 'y', '3', 'z']) store.set(id, { key: 'Queued', rank: 0, final: false, sequence: 1 });
		expect(store.entries().map(([id]) => id)).toEqual(['y', '3', 'z']);
		// Written again: last in order.
		store.set('y', { key: 'Valid', rank: 1, final: false, sequence: 2 });
		store.set('12', { key: 'Queued', rank: 0, final: false, sequence: 1 });
		expect(checkpointStoreOver(savedAndLoaded(container), { unfinished: 3, finished: 2 }).entries().map(([id]) => id)).toEqual(['z', 'y', '12']);
	});

	test('checkpoints in the format before issue 21 are read, refuse the transitions already emitted, and count on', () => {
		const uuid = '5b2e0f7c-3d4a-4e1b-8c9d-0a1b2c3d4e5f';
		const saved = { checkpoints: { [uuid]: { k: 'Valid', r: 1, f: 0, s: 2 }, '17': { k: 'Finalized', r: 4, f: 1, s: 5 }, '68fa3450539a3c9d28bbca33': { k: 'PENDING#1', r: null, f: 0, s: 3 } } };
		const container: Record<string, unknown> = savedAndLoaded(saved);
		const store = checkpointStoreOver(container);
		expect(store.get(uuid)).toEqual({ key: 'Valid', rank: 1, final: false, sequence: 2 });
		expect(store.get('17')).toEqual({ key: 'Finalized', rank: 4, final: true, sequence: 5 });
		expect(store.get('68fa3450539a3c9d28bbca33')).toEqual({ key: 'PENDING#1', rank: null, final: false, sequence: 3 });

		const tracker = new TransitionTracker({ checkpoints: store });
		expect(tracker.unfinishedIds().sort()).toEqual([uuid, '68fa3450539a3c9d28bbca33'].sort());
		expect(tracker.accept({ id: uuid, transitionKey: 'Valid', rank: 1, isFinal: false })).toBeNull();
		expect(tracker.accept({ id: uuid, transitionKey: 'Queued', rank: 0, isFinal: false })).toBeNull();
		expect(tracker.accept({ id: '17', transitionKey: 'Finalized', rank: 4, isFinal: true })).toBeNull();
		expect(tracker.accept({ id: '68fa3450539a3c9d28bbca33', transitionKey: 'PENDING#1', isFinal: false })).toBeNull();
		expect(tracker.accept({ id: uuid, transitionKey: 'Submitted', rank: 2, isFinal: false })).toMatchObject({ key: 'Submitted', sequence: 3 });
		expect(tracker.accept({ id: '68fa3450539a3c9d28bbca33', transitionKey: 'EXECUTED#1', isFinal: true })).toMatchObject({ sequence: 4 });

		// n8n stopped before it saved again: its database still has the old format, read the same way.
		expect(checkpointStoreOver(savedAndLoaded(saved)).get(uuid)).toEqual({ key: 'Valid', rank: 1, final: false, sequence: 2 });
	});

	test('the old format is moved into the new one at first use: one workflow never keeps both', () => {
		const old = { k: 'Queued', r: 0, f: 0, s: 1 } as const;
		const container: Record<string, unknown> = { checkpoints: { a: old, b: { ...old, s: 2 }, c: { ...old, k: 'Finalized', r: 4, f: 1 } }, handed: [] };
		checkpointStoreOver(container, { unfinished: 1, finished: 1 }).entries();
		expect(Object.keys(container).sort()).toEqual(['ckpt', 'handed']);
		// Over the limits: the oldest unfinished one goes, as with any write.
		const loaded = checkpointStoreOver(savedAndLoaded(container), { unfinished: 1, finished: 1 });
		expect(loaded.entries()).toEqual([
			['b', { key: 'Queued', rank: 0, final: false, sequence: 2 }],
			['c', { key: 'Finalized', rank: 4, final: true, sequence: 1 }],
		]);
		loaded.set('d', { key: 'Valid', rank: 1, final: false, sequence: 1 });
		expect(loaded.entries().map(([id]) => id)).toEqual(['c', 'd']);

		// Both formats only if an older version ran after an upgrade: the higher count wins.
		const both: Record<string, unknown> = savedAndLoaded(container);
		both.checkpoints = { b: { k: 'Valid', r: 1, f: 0, s: 3 }, c: { k: 'Queued', r: 0, f: 0, s: 0 } };
		const merged = checkpointStoreOver(both);
		expect(merged.get('b')).toEqual({ key: 'Valid', rank: 1, final: false, sequence: 3 });
		expect(merged.get('c')).toEqual({ key: 'Finalized', rank: 4, final: true, sequence: 1 });
		expect(both.checkpoints).toBeUndefined();
	});

	test('keys no checkpoint uses any more are dropped, so they do not pile up', () => {
		const container: Record<string, unknown> = {};
		const store = checkpointStoreOver(container);
		store.set('kept', { key: 'PENDING#0', rank: null, final: false, sequence: 1 });
		for (let retry = 1; retry <= 2_000; retry++) store.set('retried', { key: `PENDING#${retry}`, rank: null, final: false, sequence: retry });
		expect((container.ckpt as { keys: unknown[] }).keys.length).toBeLessThanOrEqual(256);
		const loaded = checkpointStoreOver(savedAndLoaded(container));
		expect(loaded.entries()).toEqual([
			['kept', { key: 'PENDING#0', rank: null, final: false, sequence: 1 }],
			['retried', { key: 'PENDING#2000', rank: null, final: false, sequence: 2_000 }],
		]);
	});

	test('at most half the bytes per id of the format before issue 21, for each service\'s ids', () => {
		const kurier = ['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'Finalized', 'Aggregated'].map((status) => ({ key: status, rank: kurierStatusRank(status) ?? null, final: status === 'Aggregated' }));
		const allfeat = ['validating', 'preparing_transaction', 'signing', 'submitting', 'confirming', 'completed'].map((step) => ({ key: step, rank: allfeatStepRank(step) ?? null, final: step === 'completed' }));
		const tachyon = ['NOT_PICKED_UP#0', 'PENDING#0', 'NEEDS_TO_BE_RETRIED#1', 'PENDING#1', 'EXECUTED#1'].map((key) => ({ key, rank: null, final: key.startsWith('EXECUTED') }));
		const services = [
			{ service: 'Kurier', newId: () => randomUUID(), transitions: kurier },
			{ service: 'Allfeat', newId: () => randomUUID(), transitions: allfeat },
			{ service: 'Tachyon', newId: () => randomBytes(12).toString('hex'), transitions: tachyon },
		];
		// Each service's transitions in turn, and its shortest key alone: where the old format was smallest.
		const shapes = services.flatMap((shape) => {
			const shortest = [...shape.transitions].sort((a, b) => a.key.length - b.key.length)[0];
			return [shape, { ...shape, service: `${shape.service}, ${shortest.key} only`, transitions: [shortest] }];
		});
		const count = 10_000;
		const sizes = shapes.map(({ service, newId, transitions }) => {
			const checkpoints = Array.from({ length: count }, (_, i): [string, IdCheckpoint] => [newId(), { ...transitions[i % transitions.length], sequence: (i % transitions.length) + 1 }]);
			const container: Record<string, unknown> = {};
			const store = checkpointStoreOver(container, { unfinished: count, finished: count });
			for (const [id, checkpoint] of checkpoints) store.set(id, checkpoint);
			expect(store.entries()).toEqual(checkpoints);
			const bytesPerId = (stored: unknown) => Buffer.byteLength(JSON.stringify(stored)) / count;
			return { service, old: bytesPerId({ checkpoints: oldFormatOf(checkpoints) }), new: bytesPerId(container) };
		});
		expect(sizes.filter((size) => size.new > size.old / 2)).toEqual([]);
	});
});

test('when the trigger last heard from its service: whole seconds, kept through a save', () => {
	const container: Record<string, unknown> = {};
	const lastHeard = lastHeardOver(container);
	expect(lastHeard.get()).toBeNull();
	lastHeard.note(1_760_000_123_987);
	expect(lastHeard.get()).toBe(1_760_000_123_000);
	lastHeard.note(1_760_000_200_001);
	expect(lastHeardOver(savedAndLoaded(container)).get()).toBe(1_760_000_200_000);
	// Beside the checkpoints, neither in the other's way.
	checkpointStoreOver(container).set('job-1', { key: 'Queued', rank: 0, final: false, sequence: 1 });
	const loaded = savedAndLoaded(container);
	expect(lastHeardOver(loaded).get()).toBe(1_760_000_200_000);
	expect(checkpointStoreOver(loaded).entries()).toEqual([['job-1', { key: 'Queued', rank: 0, final: false, sequence: 1 }]]);
});
