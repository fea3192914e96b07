/**
 * The slow REST check of ids not final yet, and the REST budget that paces it: a status whose
 * notification was lost on the way is still delivered (once) by the next check; with the check off
 * it is not; reads of one key are paced and wait out a "too many requests".
 */
import { AllfeatEmulator } from '../emulators/allfeat';
import { TachyonEmulator } from '../emulators/tachyon';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { TachyonTrigger } from '../nodes/Tachyon/TachyonTrigger.node';
import { RestBudget, jitteredIntervalMs } from '../nodes/shared/restBudget';
import { activateTrigger } from './helpers/n8nEngine';
import type { NodeUnderTest } from './helpers/n8nEngine';
import { TestScope } from './helpers/testScope';
import { eventually, staysTrue } from './helpers/wait';

const account = { apiKey: 'sweep-tachyon-key', dashboardJwt: 'sweep-jwt', wsKey: 'ws_sweep_key' };
const scope = new TestScope();
let emulator: TachyonEmulator;
beforeEach(async () => (emulator = await TachyonEmulator.start({ accounts: [account] })));
afterEach(async () => {
	await scope.end();
	await emulator.close();
});

function subject(restCheckMinutes: number): NodeUnderTest {
	return {
		nodeType: new TachyonTrigger(),
		parameters: { statuses: [], txIds: '', chainIds: '', options: { restCheckMinutes } },
		credentials: { tachyonApi: { baseUrl: emulator.baseUrl, apiKey: account.apiKey, dashboardJwt: '', wsUrl: emulator.wsUrl, wsKey: account.wsKey } },
	};
}

test('a status whose notification was lost arrives with the next REST check, once', async () => {
	// 0.01 min = 0.6 s (± a fifth).
	const trigger = scope.track(await activateTrigger(subject(0.01)));
	const tx = emulator.submit(account.apiKey, { chainId: 8453 });
	await trigger.waitForItems(1);
	emulator.advance(tx.id, { silent: true });
	await trigger.waitForItems(2, 5_000);
	// Once: two more checks read it (the first of them answered before the second is sent), and neither emits it again.
	const reads = emulator.stats.transactionReads;
	await eventually(() => expect(emulator.stats.transactionReads).toBeGreaterThanOrEqual(reads + 2), 5_000);
	expect(trigger.items().map((item) => item.status)).toEqual(['NOT_PICKED_UP', 'PENDING']);
	expect(emulator.openConnectionCount()).toBe(1);
});

test('with the REST check off, a lost notification stays lost until something else reads it', async () => {
	const trigger = scope.track(await activateTrigger(subject(0)));
	const tx = emulator.submit(account.apiKey, { chainId: 8453 });
	await trigger.waitForItems(1);
	const readsBefore = emulator.stats.transactionReads;
	emulator.advance(tx.id, { silent: true });
	await staysTrue(() => {
		expect(trigger.items().map((item) => item.status)).toEqual(['NOT_PICKED_UP']);
		expect(emulator.stats.transactionReads).toBe(readsBefore);
	});
});

test('Allfeat ATS: a step whose frame was lost arrives with the next REST check, in order, once', async () => {
	const allfeat = await AllfeatEmulator.start();
	try {
		const transaction = allfeat.createTransaction();
		const trigger = scope.track(
			await activateTrigger({
				nodeType: new AllfeatAtsTrigger(),
				parameters: { transactionIds: transaction.id, steps: [], options: { restCheckMinutes: 0.01 } },
				credentials: { allfeatAtsApi: { baseUrl: 'custom', customBaseUrl: allfeat.baseUrl, apiKey: '', webhookSecret: '' } },
			}),
		);
		await trigger.waitForItems(1);
		allfeat.advance(transaction.id, { silent: true });
		allfeat.advance(transaction.id, { silent: true });
		await trigger.waitForItems(3, 5_000);
		// Once: two more checks read it (the first of them answered before the second is sent), and neither emits it again.
		const reads = allfeat.stats.restRequests;
		await eventually(() => expect(allfeat.stats.restRequests).toBeGreaterThanOrEqual(reads + 2), 5_000);
		expect(trigger.items().map((item) => item.status)).toEqual(['validating', 'preparing_transaction', 'signing']);
		await trigger.deactivate();
	} finally {
		await allfeat.close();
	}
});

describe('RestBudget', () => {
	test('a burst goes at once, then reads are paced at the rate', async () => {
		let now = 0;
		const budget = new RestBudget({ ratePerSecond: 2, burst: 3, now: () => now });
		const signal = new AbortController().signal;
		for (let i = 0; i < 3; i++) await budget.take(signal);
		let granted = false;
		const next = budget.take(signal).then(() => (granted = true));
		// Not granted while the (injected) clock stands still, however often the budget looks again.
		await staysTrue(() => expect(granted).toBe(false));
		now += 500;
		await next;
		expect(granted).toBe(true);
	});

	test('"too many requests" pauses the key for the time asked; an abort ends the wait at once', async () => {
		let now = 0;
		const budget = new RestBudget({ ratePerSecond: 100, burst: 10, now: () => now });
		budget.tooManyRequests(60_000);
		const controller = new AbortController();
		let settled = false;
		const waiting = budget.take(controller.signal).then(() => (settled = true));
		await staysTrue(() => expect(settled).toBe(false));
		controller.abort();
		await waiting;
		expect(settled).toBe(true);
		now += 60_000;
		await budget.take(new AbortController().signal);
	});

	test('sweeps of many triggers spread out: the interval, give or take a fifth', () => {
		expect(jitteredIntervalMs(300_000, () => 0)).toBe(240_000);
		expect(jitteredIntervalMs(300_000, () => 1)).toBe(360_000);
	});
});
