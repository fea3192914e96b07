/**
 * Tachyon under chaos: the account's transaction stream against the emulator's fault injection, at
 * volume. The forced-disconnect run drives the stream class itself (the trigger's parameters cannot
 * shorten keep-alive and backoff to chaos speed); everything else runs the Tachyon Trigger in n8n's engine.
 */
import type { IDataObject } from 'n8n-workflow';

import { TachyonEmulator } from '../../emulators/tachyon';
import type { TachyonStatus } from '../../emulators/tachyon';
import { TachyonApiClient, resolveTachyonConnection } from '../../nodes/Tachyon/TachyonApiClient';
import { TachyonStream } from '../../nodes/Tachyon/TachyonStream';
import { TachyonTrigger } from '../../nodes/Tachyon/TachyonTrigger.node';
import { CapturingLogger } from '../helpers/logs';
import { activateTrigger, engineLogs } from '../helpers/n8nEngine';
import { until, withGenerousRestBudget } from './helpers/chaos';
import { deliveryRows, expectCleanDelivery } from './helpers/delivery';
import { CHAOS_STREAM_TIMING, DISCONNECTS, disconnectRows, expectDisconnectRun, runForcedDisconnects } from './helpers/disconnects';
import { TransitionDriver } from './helpers/driver';
import type { TransitionPlan } from './helpers/driver';
import { FollowedTrigger } from './helpers/engine';
import { expectBadFramesSkipped, lifetimeCloses, expectNoLeaksOverCycles, expectOneErrorNoStorm, expectSeamlessLifetimeCloses } from './helpers/scenarios';
import { Ledger } from './helpers/ledger';
import { ChaosReport } from './helpers/report';

const API_KEY = 'tachyon-chaos-key-7c21e9b0';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.Y2hhb3M.c2lnbmF0dXJlMw';
const WS_KEY = 'ws_chaos_3f8e0a6d2b9c41e7';
const report = new ChaosReport('Tachyon');
const PARAMETERS = { statuses: [], txIds: '', chainIds: '' };

let emulator: TachyonEmulator;

beforeEach(async () => {
	emulator = await TachyonEmulator.start({ accounts: [{ apiKey: API_KEY, dashboardJwt: JWT, wsKey: WS_KEY }] });
	engineLogs.clear();
});

afterEach(async () => {
	await emulator.close();
});

const connectionFields = () => ({ baseUrl: emulator.baseUrl, apiKey: API_KEY, dashboardJwt: JWT, wsUrl: emulator.wsUrl, wsKey: WS_KEY });
const activate = async () => await activateTrigger({ nodeType: new TachyonTrigger(), parameters: PARAMETERS as never, credentials: { tachyonApi: connectionFields() } });

/** A transition is its status and retry count (PENDING comes back after NEEDS_TO_BE_RETRIED). */
const keyOf = (status: string, retries: number) => `${status}#${retries}`;
const itemKey = (item: IDataObject) => keyOf(String(item.status), Number((item.details as IDataObject | undefined)?.retries ?? 0));

/** Place of a status within one try; each retry starts two places further on. */
const PLACE_IN_TRY: Record<TachyonStatus, number> = { NOT_PICKED_UP: 0, NEEDS_TO_BE_RETRIED: 0, PENDING: 1, EXECUTED: 2, FAILED: 2 };

/**
 * Transactions on the emulator: NOT_PICKED_UP → PENDING → NEEDS_TO_BE_RETRIED → PENDING → EXECUTED
 * (one in ten FAILED instead), each transition written to the ledger with its place in that plan.
 */
const transactions: TransitionPlan = {
	create: (willFail) => {
		const tx = emulator.submit(API_KEY, { willRetry: 1, willFail });
		return { id: tx.id, key: keyOf(tx.status, tx.retries) };
	},
	advance: (txId) => {
		const tx = emulator.advance(txId);
		const order = (emulator.getTransaction(txId) as { retries: number }).retries * 2 + PLACE_IN_TRY[tx.status];
		return { key: keyOf(tx.status, tx.retries), order, final: tx.status === 'EXECUTED' || tx.status === 'FAILED' };
	},
};

test('10,000 transitions across 100 forced disconnects of every kind: 0 lost, 0 duplicated, in order per transaction', async () => {
	const ledger = new Ledger(true);
	const driver = new TransitionDriver(transactions, ledger);
	const fatals: Error[] = [];
	const client = withGenerousRestBudget(new TachyonApiClient(resolveTachyonConnection(connectionFields())));
	const stream = new TachyonStream({
		client,
		onItem: (item) => ledger.deliver(item.id, itemKey(item as unknown as IDataObject)),
		onFatal: (error) => fatals.push(error),
		logger: new CapturingLogger(),
		...CHAOS_STREAM_TIMING,
	});
	const run = await runForcedDisconnects({
		emulator,
		driver,
		stream,
		watchReconnect: () => {
			const acceptedBefore = emulator.stats.connectionsAccepted;
			return () => emulator.openConnectionCount() >= 1 && emulator.stats.connectionsAccepted > acceptedBefore;
		},
		// Transactions go on moving while the stream is cut off. No new ones: Tachyon has no
		// listing, so one submitted and finished while disconnected is not recoverable (README).
		newIdsWhileCutOff: false,
	});

	const figures = ledger.figures();
	report.record('forced disconnects (stream class)', {
		...disconnectRows(run, figures, { ids: 'transactions (1 retry each, 10% failing)', unfinished: 'transactions without their final status' }),
		'fatal errors': fatals.length,
		'REST reads (reconciles)': emulator.stats.transactionReads,
		seconds: run.seconds,
	});
	expectDisconnectRun(run, figures, { fatals });
	// At least one reconnect per fault.
	expect(run.connectionsAccepted).toBeGreaterThanOrEqual(DISCONNECTS + 1);
});

// ----- in n8n's engine: the Tachyon Trigger ------------------------------------------------------

/** The Tachyon Trigger, followed with a new ledger; `window`: transactions moving at once. */
async function followTrigger(collapseAllowed: boolean, window: number): Promise<FollowedTrigger> {
	const ledger = new Ledger(collapseAllowed);
	return new FollowedTrigger(await activate(), emulator, new TransitionDriver(transactions, ledger, window), itemKey);
}

/** A transaction frame whose fields have the wrong types; Tachyon's log line quotes the frame. */
const wronglyTyped = (index: number) => ({
	text: JSON.stringify({ txId: index, status: ['EXECUTED'], chainId: 'base', note: `chaos-wrong-${index}` }),
	marker: new RegExp(`chaos-wrong-${index}\\b`),
});

test('1,000 malformed, oversized, unknown-type and wrongly-typed frames: no crash, each logged once and skipped, good frames still delivered', async () => {
	const followed = await followTrigger(false, 10);
	await expectBadFramesSkipped(report, 'bad frames (n8n engine)', followed, { wronglyTyped }, {
		badFrameLine: /Skipped a frame that is not JSON|Tachyon: skipped /,
	});
});

test('a rate-limited reconnect (HTTP 429 with Retry-After on the upgrade) is honoured: no attempt before it', async () => {
	const RETRY_AFTER_SECONDS = 1;
	const followed = await followTrigger(true, 5);
	const upgradeTimes: number[] = [];
	await followed.runThenDeactivate(async () => {
		followed.driver.steps(50);
		await followed.settle();
		emulator.onUpgradeRequest = () => {
			upgradeTimes.push(Date.now());
			// Only the first attempt is refused (once the refusal has been written).
			if (upgradeTimes.length === 1) setImmediate(() => emulator.setRefuseUpgrades(null));
		};
		emulator.setRefuseUpgrades(429, RETRY_AFTER_SECONDS);
		await followed.disrupt(async () => {
			emulator.dropAllConnections();
			await until(() => upgradeTimes.length >= 2 && emulator.openConnectionCount() === 1, 10_000);
			followed.driver.steps(20, false);
		});
		await followed.finish();
	});
	const waitedMs = upgradeTimes[1] - upgradeTimes[0];
	const figures = followed.ledger.figures();
	report.record('rate limit (n8n engine)', {
		'Retry-After on the refused upgrade (s)': RETRY_AFTER_SECONDS,
		'next attempt after (ms)': waitedMs,
		'upgrade attempts': upgradeTimes.length,
		...deliveryRows(figures, 'transitions'),
		'errors emitted': followed.trigger.errors.length,
	});
	expect(waitedMs).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000);
	expect(upgradeTimes).toHaveLength(2);
	expect(followed.settled).toBe(true);
	expectCleanDelivery(figures);
	expect(followed.trigger.errors).toEqual([]);
});

test('the server closing at its maximum connection lifetime (1000 / 1001 close): seamless reconnect, nothing lost, no error', async () => {
	const followed = await followTrigger(true, 10);
	await expectSeamlessLifetimeCloses(report, 'max connection lifetime (n8n engine)', followed, {
		closes: lifetimeCloses(emulator, [1000, 1001]),
		label: '1000, 1001',
		before: () => followed.driver.steps(100),
		during: () => followed.driver.steps(50, false),
	});
});

test('a WebSocket key revoked mid-life: one clear error, no reconnect storm', async () => {
	const followed = await followTrigger(false, 5);
	await expectOneErrorNoStorm(report, 'key revoked mid-life (n8n engine)', followed, () => followed.driver.steps(50), {
		revoke: () => emulator.revokeWsKey(WS_KEY),
		learnedOnReconnect: false,
		message: /refused the WebSocket key/,
		secret: WS_KEY,
	});
});

test('1,000 activate/deactivate cycles: no open handles, no sockets left, a flat heap', async () => {
	await expectNoLeaksOverCycles(report, emulator, activate);
});
