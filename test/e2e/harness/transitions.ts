import { ALLFEAT_STEP_SEQUENCE } from '../../../emulators/allfeat';
import { KURIER_STATUS_SEQUENCE_NO_CHAIN, KURIER_STATUS_SEQUENCE_WITH_CHAIN } from '../../../emulators/kurier';
import type { SandboxWorld } from './SandboxWorld';
import type { Sink, SinkRequest } from './sink';

/**
 * Work started at the emulators, what the stream triggers must deliver for it (every transition,
 * once), and the check of what reached the sink through n8n. Shared by the regular- and queue-mode
 * suites. n8n runs executions side by side, so arrival order at the sink is not emit order: the
 * order is checked on the items' `occurredAt`, and each transition must arrive exactly once.
 */

export interface ExpectedTransitions {
	service: 'kurier' | 'tachyon' | 'allfeat-ats';
	id: string;
	label: string;
	/** Transition keys in order (Tachyon: status#retries). */
	keys: string[];
}

const CONTRACT_FIELDS = ['source', 'id', 'status', 'phase', 'isFinal', 'progress', 'txHash', 'blockHash', 'blockNumber', 'chainId', 'explorerUrl', 'error', 'occurredAt', 'receivedAt', 'details'];
const PHASES = ['pending', 'retrying', 'succeeded', 'failed'];

export function createAllfeatTransactions(world: SandboxWorld): ExpectedTransitions[] {
	const steps = (failAt?: string, withTokenTransfer = false) => {
		const all: string[] = [...ALLFEAT_STEP_SEQUENCE];
		if (withTokenTransfer) all.splice(1, 0, 'transferring_tokens');
		return failAt ? [...all.slice(0, all.indexOf(failAt)), 'failed'] : all;
	};
	return [
		{ label: 'register', options: {}, keys: steps() },
		{ label: 'with token transfer', options: { withTokenTransfer: true }, keys: steps(undefined, true) },
		{ label: 'fails at signing', options: { failAt: 'signing' }, keys: steps('signing') },
	].map(({ label, options, keys }) => ({ service: 'allfeat-ats' as const, id: world.allfeat.createTransaction(options).id, label, keys }));
}

export async function submitKurierProofs(world: SandboxWorld, count = 3): Promise<ExpectedTransitions[]> {
	const all = [
		{ label: 'groth16', proofType: 'groth16', proof: '0x1a2b', keys: [...KURIER_STATUS_SEQUENCE_NO_CHAIN] },
		{ label: 'ultrahonk → chain 84532', proofType: 'ultrahonk', proof: '0x3c4d', chainId: 84532, keys: [...KURIER_STATUS_SEQUENCE_WITH_CHAIN] },
		// The emulator fails a proof whose JSON contains "invalid".
		{ label: 'invalid proof', proofType: 'groth16', proof: '0xinvalid', keys: ['Queued', 'Valid', 'Failed'] },
	];
	const proofs = all.slice(0, count);
	return await Promise.all(
		proofs.map(async ({ label, proofType, proof, chainId, keys }) => {
			const body = { proofType, vkRegistered: false, chainId, proofData: { proof, publicSignals: ['0x01'], vk: { e2e: label } } };
			const response = await fetch(`${world.kurier.restBaseUrl}/submit-proof/${world.secrets.kurierApiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
			const answer = (await response.json()) as { jobId?: string };
			if (!answer.jobId) throw new Error(`submit-proof answered ${response.status}`);
			return { service: 'kurier' as const, id: answer.jobId, label, keys };
		}),
	);
}

export function submitTachyonTransactions(world: SandboxWorld, count = 3): ExpectedTransitions[] {
	const all = [
		{ label: 'executes', retries: 0, fails: false },
		{ label: 'retried once, executes', retries: 1, fails: false },
		{ label: 'fails', retries: 0, fails: true },
	];
	return all.slice(0, count).map(({ label, retries, fails }) => {
		const keys = ['NOT_PICKED_UP#0', 'PENDING#0'];
		for (let retry = 1; retry <= retries; retry++) keys.push(`NEEDS_TO_BE_RETRIED#${retry}`, `PENDING#${retry}`);
		keys.push(`${fails ? 'FAILED' : 'EXECUTED'}#${retries}`);
		const id = world.tachyon.submit(world.secrets.tachyonApiKey, { chainId: 8453, label, willRetry: retries, willFail: fails }).id;
		return { service: 'tachyon' as const, id, label, keys };
	});
}

/** The sink path each service's unfiltered stream workflow posts to (see workflows.ts). */
export function streamPath(service: ExpectedTransitions['service']): string {
	return `/stream/${service === 'allfeat-ats' ? 'allfeat' : service}`;
}

export interface StreamItem {
	source: string;
	id: string;
	status: string;
	phase: string;
	isFinal: boolean;
	occurredAt: string;
	receivedAt: string;
	details: Record<string, unknown>;
	[field: string]: unknown;
}

export function itemsOf(sink: Sink, expected: ExpectedTransitions): Array<{ item: StreamItem; request: SinkRequest }> {
	return sink
		.requestsTo(streamPath(expected.service))
		.map((request) => ({ item: request.body as StreamItem, request }))
		.filter(({ item }) => item?.id === expected.id);
}

export function transitionKey(item: StreamItem): string {
	return item.source === 'tachyon' ? `${item.status}#${String(item.details?.retries ?? 0)}` : item.status;
}

/** Waits until every id's last transition has arrived, a little longer for stragglers, then checks all of them. */
export async function expectEveryTransitionOnce(sink: Sink, expectations: ExpectedTransitions[], timeoutMs: number, settleMs = 1_500): Promise<void> {
	await sink.waitFor(
		`every transition of ${expectations.length} ids`,
		() => expectations.every((expected) => itemsOf(sink, expected).length >= expected.keys.length),
		timeoutMs,
	).catch((error: Error) => {
		throw new Error(`${error.message}\n${describeArrivals(sink, expectations)}`);
	});
	await new Promise((resolve) => setTimeout(resolve, settleMs));
	for (const expected of expectations) {
		const items = itemsOf(sink, expected).map(({ item }) => item);
		const inOrder = [...items].sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt));
		const context = `${expected.service} ${expected.label} (${expected.id})`;
		expect({ context, keys: inOrder.map(transitionKey) }).toEqual({ context, keys: expected.keys });
		for (const item of items) expectContractItem(item, expected.service);
		expect(items.filter((item) => item.isFinal).map(transitionKey)).toEqual([expected.keys.at(-1)]);
	}
}

export function expectContractItem(item: StreamItem, source: string): void {
	for (const field of CONTRACT_FIELDS) expect(Object.keys(item)).toContain(field);
	expect(item.source).toBe(source);
	expect(PHASES).toContain(item.phase);
	expect(typeof item.isFinal).toBe('boolean');
	expect(Number.isNaN(Date.parse(item.occurredAt))).toBe(false);
	expect(Number.isNaN(Date.parse(item.receivedAt))).toBe(false);
	expect(typeof item.details).toBe('object');
}

function describeArrivals(sink: Sink, expectations: ExpectedTransitions[]): string {
	return expectations
		.map((expected) => `  ${expected.service} ${expected.label}: expected ${expected.keys.join(' → ')}; got ${itemsOf(sink, expected).map(({ item }) => transitionKey(item)).join(', ') || 'nothing'}`)
		.join('\n');
}

/**
 * Latency of each live item, in ms: `total` = the sink's arrival time minus the service's own time of
 * the transition; `inNode` = the part until the trigger had the frame (the item's receivedAt), so
 * `total - inNode` is n8n starting and running the execution.
 */
export function latencySamples(sink: Sink, expectations: ExpectedTransitions[], liveSince: number): { total: number[]; inNode: number[] } {
	const live = expectations.flatMap((expected) =>
		itemsOf(sink, expected)
			.map(({ item, request }) => ({ at: Date.parse(item.occurredAt), received: Date.parse(item.receivedAt), arrived: request.receivedAt }))
			.filter(({ at }) => at >= liveSince),
	);
	return { total: live.map(({ at, arrived }) => arrived - at), inNode: live.map(({ at, received }) => received - at) };
}
