import { TachyonEmulator } from '../emulators/tachyon';
import type { TachyonFrameShape } from '../emulators/tachyon';
import { TachyonTrigger } from '../nodes/Tachyon/TachyonTrigger.node';
import { plural, short } from './report';
import type { Report, Step } from './report';
import { activateOrClose, dropUntilCountGrows, shutDown, workFromList } from './scenario';
import type { Scenario } from './scenario';

/**
 * Tachyon (rath.fi relayer): transactions are relayed, the emulator moves each one status every
 * STEP_MS (NOT_PICKED_UP → PENDING → (NEEDS_TO_BE_RETRIED → PENDING)* → EXECUTED | FAILED), and the
 * Tachyon Trigger streams the whole account. A status can come back after a retry, so a transition
 * is status#retries: the second PENDING is a new item. The drop falls just before that second
 * PENDING, so it must come back through the trigger's REST reconcile.
 */
const SERVICE = 'tachyon';
const STEP_MS = 600;
const RECIPIENT = '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49';

interface Relay {
	label: string;
	chainId: number;
	/** Failed executions that are retried before the last attempt. */
	retries: number;
	/** The last attempt reverts (FAILED) instead of executing. */
	fails: boolean;
}

const RELAYS: Relay[] = [
	{ label: 'transfer on Base', chainId: 8453, retries: 0, fails: false },
	{ label: 'payout on Arbitrum, retried', chainId: 42161, retries: 1, fails: false },
	{ label: 'swap on Optimism, reverts', chainId: 10, retries: 0, fails: true },
	{ label: 'mint on Polygon', chainId: 137, retries: 0, fails: false },
];
const FIRST_BATCH = 3;

export async function startTachyonScenario(report: Report, frameShape: TachyonFrameShape): Promise<Scenario> {
	const account = { apiKey: report.newSecret('tachyon-demo-'), dashboardJwt: report.newSecret('eyJhbGciOiJIUzI1NiJ9.demo.'), wsKey: report.newSecret('ws_demo_') };
	const emulator = await TachyonEmulator.start({ accounts: [account], frameShape, stepMs: STEP_MS });
	report.addService({
		name: SERVICE,
		keyOf: (item) => `${item.status}#${String(item.details.retries)}`,
		restKnowsOnlyLatest: true,
		logName: 'Tachyon',
		emulatorUrl: emulator.baseUrl,
		describeTraffic: () =>
			`${plural(emulator.stats.connectionsAccepted, 'connection')}, ${plural(emulator.stats.registrations, 'WebSocket registration')} with the JWT, ${plural(emulator.stats.transactionReads, 'REST read')}`,
	});
	// No WebSocket key in the credential: the trigger registers one with the dashboard JWT, as on first setup.
	const trigger = await activateOrClose(emulator, {
		nodeType: new TachyonTrigger(),
		parameters: { statuses: [], txIds: '', chainIds: '' },
		credentials: { tachyonApi: { baseUrl: emulator.baseUrl, apiKey: account.apiKey, dashboardJwt: account.dashboardJwt } },
	});
	report.watch(SERVICE, trigger);
	report.note(SERVICE, `emulator on ${emulator.baseUrl} (${frameShape} frames), transactions step every ${STEP_MS} ms; Tachyon Trigger active`);

	/** Over submit-tx when the relay just executes; submit-tx cannot ask for a retry or a revert, so those use the emulator's plan. */
	const relay = async ({ label, chainId, retries, fails }: Relay): Promise<string> => {
		const planned = retries > 0 || fails;
		const txId = planned
			? emulator.submit(account.apiKey, { chainId, label, willRetry: retries, willFail: fails }).id
			: await submitOverRest(emulator.baseUrl, account.apiKey, chainId, label);
		const how = planned ? `queued with the emulator's plan (${fails ? 'reverts' : `${retries} retry`})` : 'relayed over REST submit-tx';
		const tracked = { service: SERVICE, id: txId, label, expected: expectedTransitions(retries, fails), observe: () => observeTransaction(emulator, txId) } as const;
		return report.track(tracked, `${how}: ${label}, tx ${short(txId)}`);
	};

	return {
		service: SERVICE,
		stepMs: STEP_MS,
		...workFromList(RELAYS, FIRST_BATCH, relay),
		// Once the retried one is NEEDS_TO_BE_RETRIED (the others final): the drop falls just before its second PENDING.
		dropAfterItems: 3,
		dropConnections: () => dropUntilCountGrows(() => emulator.dropAllConnections(), () => emulator.stats.connectionsAccepted),
		close: async () => await shutDown(emulator, [trigger]),
	};
}

async function submitOverRest(baseUrl: string, apiKey: string, chainId: number, label: string): Promise<string> {
	const body = JSON.stringify({ chainId, to: RECIPIENT, callData: '0x', value: '1000000000000000', label });
	const response = await fetch(`${baseUrl}/api/submit-tx`, { method: 'POST', headers: { 'content-type': 'application/json', 'api-key': apiKey }, body });
	const answer = (await response.json()) as { data?: { txId?: string }; error?: { message?: string } };
	if (!answer.data?.txId) throw new Error(`submit-tx answered ${response.status}: ${answer.error?.message ?? 'no txId'}`);
	return answer.data.txId;
}

/** The emulator's plan (see its statusPlan), as transition keys: retries count up at NEEDS_TO_BE_RETRIED. */
function expectedTransitions(retries: number, fails: boolean): string[] {
	const keys = ['NOT_PICKED_UP#0', 'PENDING#0'];
	for (let retry = 1; retry <= retries; retry += 1) keys.push(`NEEDS_TO_BE_RETRIED#${retry}`, `PENDING#${retry}`);
	keys.push(`${fails ? 'FAILED' : 'EXECUTED'}#${retries}`);
	return keys;
}

/** REST knows only the current state, and without its time: that comes from the frame the emulator would send now. */
function observeTransaction(emulator: TachyonEmulator, txId: string): Step[] {
	const tx = emulator.getTransaction(txId);
	if (!tx) return [];
	const frame = JSON.parse(emulator.frameOf(txId)) as { updatedAt?: string; timestamp?: string; data?: { updatedAt?: string } };
	// bare: updatedAt; notification: data.updatedAt; legacy: timestamp (its data is the REST object).
	const updatedAt = frame.data?.updatedAt ?? frame.updatedAt ?? frame.timestamp ?? '';
	return [{ key: `${tx.status}#${tx.retries}`, at: Date.parse(updatedAt) }];
}
