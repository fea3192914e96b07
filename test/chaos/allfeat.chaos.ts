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
import { until, withGenerousRestBudget } from './helpers/chaos';
import { deliveryRows, expectCleanDelivery } from './helpers/delivery';
import { CHAOS_STREAM_TIMING, DISCONNECTS, disconnectRows, expectDisconnectRun, runForcedDisconnects } from './helpers/disconnects';
import { TransitionDriver, sequencePlan } from './helpers/driver';
import { FollowedTrigger } from './helpers/engine';
import { BAD_FRAMES, expectBadFramesSkipped, lifetimeCloses, expectNoLeaksOverCycles, expectOneErrorNoStorm, expectSeamlessLifetimeCloses } from './helpers/scenarios';
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

/** Transactions on the emulator (one in ten failing at `signing`), each step written to the ledger. */
const transactions = sequencePlan(
	(willFail) => {
		const tx = emulator.createTransaction(willFail ? { failAt: 'signing' } : {});
		return { id: tx.id, key: tx.current_step, sequence: willFail ? FAILING_SEQUENCE : ALLFEAT_STEP_SEQUENCE };
	},
	(id) => emulator.advance(id).current_step,
);

test('10,000 steps (about 1,750 transactions) across 100 forced disconnects of every kind: 0 lost, 0 duplicated, in order per transaction', async () => {
	const ledger = new Ledger(false);
	const logger = new CapturingLogger();
	const fatals: Error[] = [];
	const startFailures: Error[] = [];
	const client = withGenerousRestBudget(new AllfeatAtsApiClient(resolveAllfeatConnection(credentials().allfeatAtsApi)));
	const streams = new Map<string, AllfeatTransactionStream>();
	const starts: Array<Promise<void>> = [];
	// A stream per transaction, started as the driver creates it.
	const driver = new TransitionDriver(transactions, ledger, 20, (transactionId) => {
		const stream = new AllfeatTransactionStream({
			client,
			transactionId,
			onItem: (item) => ledger.deliver(item.id, item.status),
			onFatal: (error) => fatals.push(error),
			logger,
			...CHAOS_STREAM_TIMING,
		});
		streams.set(transactionId, stream);
		starts.push(stream.start().catch((error: Error) => void startFailures.push(error)));
	});
	const run = await runForcedDisconnects({
		emulator,
		driver,
		// The streams start as the driver creates their transactions.
		stream: {
			close: async () => {
				await Promise.all(starts);
				await Promise.all([...streams.values()].map(async (stream) => await stream.close()));
			},
		},
		// Back once every transaction cut off that is still moving has its socket again (a finished one needs none).
		watchReconnect: () => {
			const cutOff = [...driver.active];
			return () => cutOff.every((id) => !driver.active.includes(id) || emulator.openConnectionCount(id) >= 1);
		},
		newIdsWhileCutOff: false,
		// Before a fault, every transaction still moving has its socket open (again).
		readyForFault: () => driver.active.every((id) => emulator.openConnectionCount(id) >= 1),
	});

	const figures = ledger.figures();
	report.record('forced disconnects (stream class, one socket per transaction)', {
		...disconnectRows(run, figures, {
			ids: 'transactions (10% failing at signing)',
			produced: 'steps produced (the transitions)',
			connections: 'connections accepted (one per transaction + reconnects)',
			collapsed: 'collapsed (none allowed: REST keeps every step)',
			unfinished: 'transactions without their final step',
		}),
		'fatal errors / failed starts': `${fatals.length} / ${startFailures.length}`,
		'sockets left open': emulator.openConnectionCount(),
		seconds: run.seconds,
	});
	expectDisconnectRun(run, figures, { fatals, startFailures }, { collapsed: 0 });
	// One per transaction, plus more reconnects than faults (each fault cuts every open socket).
	expect(run.connectionsAccepted).toBeGreaterThan(figures.ids + DISCONNECTS);
});

// ----- in n8n's engine: the Allfeat ATS Trigger over several transactions ------------------------

/**
 * `count` transactions created, then the Allfeat ATS Trigger activated on them and followed with a
 * new ledger (no collapse: the REST resource keeps every step).
 */
async function followTrigger(count: number, beforeActivation: () => void = () => undefined): Promise<FollowedTrigger> {
	const ledger = new Ledger(false);
	const driver = new TransitionDriver(transactions, ledger, count);
	for (let i = 0; i < count; i++) driver.create();
	beforeActivation();
	return new FollowedTrigger(await activate([...driver.active]), emulator, driver, (item: IDataObject) => String(item.status));
}

const wronglyTyped = () => ({
	text: JSON.stringify({ type: 'update', step: 42, progress: 'half', timestamp: ['yesterday'] }),
	// The stream's line names the frame's type and field, not its content.
	marker: null,
});

test('1,000 malformed, oversized, unknown-type and wrongly-typed frames: no crash, each logged once and skipped, good frames still delivered', async () => {
	const IDS = 10;
	const followed = await followTrigger(IDS);
	const { driver } = followed;
	const ids = [...driver.active];
	// About five good steps per transaction, spread over the bad frames.
	const goodEvery = Math.floor(BAD_FRAMES / (IDS * 5));
	const sending = {
		wronglyTyped,
		before: async () => {
			await until(() => ids.every((id) => emulator.openConnectionCount(id) === 1), 5_000);
			await followed.settle();
		},
		// To a transaction still moving (its socket is open): each bad frame reaches one socket.
		send: (text: string, i: number) => emulator.sendRawTo(driver.active[i % driver.active.length], text),
		// One transaction is always left moving, so every bad frame has an open socket to go to.
		between: (i: number) => {
			if (i % goodEvery === goodEvery - 1 && driver.active.length > 1) driver.step(false);
		},
	};
	await expectBadFramesSkipped(report, 'bad frames (n8n engine, 10 transactions)', followed, sending, {
		badFrameLine: /Skipped a frame that is not JSON|: skipped a /,
		wronglyTypedLine: /skipped a frame of type "update"/,
		noun: 'steps',
		connections: IDS,
	});
});

test('a rate-limited REST read (HTTP 429 with Retry-After) is honoured: no read of the host before it', async () => {
	const RETRY_AFTER_SECONDS = 3;
	// Reads of the other transactions already on their way when the 429 came are not retries.
	const IN_FLIGHT_MS = 100;
	const readTimes: number[] = [];
	const followed = await followTrigger(3, () => {
		emulator.onRestRequest = () => readTimes.push(Date.now());
		emulator.failNextRestRequests(1, 429, RETRY_AFTER_SECONDS);
	});
	await followed.runThenDeactivate(async () => {
		await followed.settle(10_000);
		await followed.finish();
	});
	const refusedAt = readTimes[0];
	const tooEarly = readTimes.filter((t) => t > refusedAt + IN_FLIGHT_MS && t < refusedAt + RETRY_AFTER_SECONDS * 1000).length;
	const nextRead = readTimes.find((t) => t > refusedAt + IN_FLIGHT_MS);
	const figures = followed.ledger.figures();
	report.record('rate limit (n8n engine, 3 transactions)', {
		'Retry-After on a REST read (s)': RETRY_AFTER_SECONDS,
		'next REST read of the host after (ms)': nextRead === undefined ? '(none)' : nextRead - refusedAt,
		'reads before Retry-After (in flight excepted)': tooEarly,
		'REST reads': readTimes.length,
		...deliveryRows(figures, 'steps'),
		'errors emitted': followed.trigger.errors.length,
	});
	expect(tooEarly).toBe(0);
	expect(nextRead).toBeDefined();
	expect((nextRead as number) - refusedAt).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000);
	expect(followed.settled).toBe(true);
	expectCleanDelivery(figures);
	expect(followed.trigger.errors).toEqual([]);
});

test('the server closing at its maximum connection lifetime (1001 / 1000 close): seamless reconnect, nothing lost, no error', async () => {
	const followed = await followTrigger(5);
	const { driver } = followed;
	await expectSeamlessLifetimeCloses(report, 'max connection lifetime (n8n engine, 5 transactions)', followed, {
		closes: lifetimeCloses(emulator, [1001, 1000]),
		label: '1001, 1000; every socket',
		// No new transactions: the trigger follows the ones it was given.
		before: () => driver.step(false),
		during: () => driver.steps(2, false),
		sockets: {
			// Every transaction still moving has its own socket again.
			reconnected: (accepted) => emulator.stats.connectionsAccepted >= accepted + driver.active.length && driver.active.every((id) => emulator.openConnectionCount(id) === 1),
			connectionRows: () => ({ 'connections accepted': emulator.stats.connectionsAccepted }),
		},
		noun: 'steps',
		alsoZero: { collapsed: 0 },
	});
});

test('access refused mid-life (the host answers 401 on tracking): one clear error, no reconnect storm', async () => {
	const followed = await followTrigger(3);
	await expectOneErrorNoStorm(report, 'access refused mid-life (n8n engine, 3 transactions)', followed, () => followed.driver.step(false), {
		// Allfeat's tracking routes take no key (the trigger sends none), so "revoked" is the host
		// refusing them from now on: upgrades and REST reads answered 401.
		revoke: () => {
			emulator.setRefuseUpgrades(401);
			emulator.failNextRestRequests(1_000, 401);
			emulator.dropAllConnections();
		},
		learnedOnReconnect: true,
		message: /401/,
	});
});

test('1,000 activate/deactivate cycles: no open handles, no sockets left, a flat heap', async () => {
	const id = emulator.createTransaction().id;
	await expectNoLeaksOverCycles(report, emulator, async () => await activate([id]));
});
