import { randomUUID } from 'node:crypto';

import { PACKAGE_PREFIX } from './SandboxWorld';
import type { WorkflowJson } from './SandboxWorld';

/**
 * Workflows the e2e run adds to the examples: each trigger with no filter posting every item it emits
 * to the sink (so the test sees every transition), the actions the examples do not use, and n8n's own
 * Webhook node posting to the sink, the baseline for latency.
 */

type Node = WorkflowJson['nodes'][number];

/** POSTs the incoming item, whole, to `url` (a sandbox `https://example.com/...` URL is rewired to the sink). */
export function postItemNode(name: string, url: string, position: [number, number]): Node {
	return {
		id: randomUUID(),
		name,
		type: 'n8n-nodes-base.httpRequest',
		typeVersion: 4.2,
		position,
		parameters: { method: 'POST', url, sendBody: true, specifyBody: 'json', jsonBody: '={{ JSON.stringify($json) }}', options: {} },
	};
}

export function webhookNode(name: string, path: string): Node {
	return { id: randomUUID(), name, type: 'n8n-nodes-base.webhook', typeVersion: 2, position: [0, 0], webhookId: randomUUID(), parameters: { httpMethod: 'POST', path, options: {} } };
}

export function packageNode(name: string, type: string, parameters: Record<string, unknown>, credentialType: string, position: [number, number] = [0, 0]): Node {
	return { id: randomUUID(), name, type: `${PACKAGE_PREFIX}${type}`, typeVersion: 1, position, parameters, credentials: { [credentialType]: { id: 'set-by-deploy', name: 'set-by-deploy' } } };
}

export function linear(name: string, nodes: Node[]): WorkflowJson {
	const connections: Record<string, unknown> = {};
	for (let i = 0; i + 1 < nodes.length; i++) connections[nodes[i].name] = { main: [[{ node: nodes[i + 1].name, type: 'main', index: 0 }]] };
	return { name, nodes, connections, settings: { executionOrder: 'v1' } };
}

/** Each stream trigger, unfiltered, into the sink at `/stream/<service>`. */
export function streamWorkflows(sinkUrl: (path: string) => string, allfeatTransactionIds: string[], options: { allfeatWorkflowPerId?: boolean } = {}): WorkflowJson[] {
	const allfeat = (name: string, ids: string[]) =>
		linear(name, [
			packageNode('Allfeat ATS Trigger', 'allfeatAtsTrigger', { transactionIds: ids.join('\n'), steps: [] }, 'allfeatAtsApi'),
			postItemNode('To sink', sinkUrl('/stream/allfeat'), [260, 0]),
		]);
	return [
		linear('E2E: Kurier Trigger (all jobs) → sink', [
			packageNode('Kurier Trigger', 'kurierTrigger', { event: 'allJobs', statuses: [] }, 'kurierApi'),
			postItemNode('To sink', sinkUrl('/stream/kurier'), [260, 0]),
		]),
		linear('E2E: Tachyon Trigger → sink', [
			packageNode('Tachyon Trigger', 'tachyonTrigger', { statuses: [], txIds: '', chainIds: '' }, 'tachyonApi'),
			postItemNode('To sink', sinkUrl('/stream/tachyon'), [260, 0]),
		]),
		...(options.allfeatWorkflowPerId
			? allfeatTransactionIds.map((id, index) => allfeat(`E2E: Allfeat ATS Trigger (id ${index + 1}) → sink`, [id]))
			: [allfeat('E2E: Allfeat ATS Trigger (fixed ids) → sink', allfeatTransactionIds)]),
	];
}

/** Webhook → Allfeat ATS Get Transaction → sink, and n8n's own Webhook → sink (the latency baseline). */
export function actionWorkflows(sinkUrl: (path: string) => string): WorkflowJson[] {
	return [
		linear('E2E: Allfeat ATS Get Transaction', [
			webhookNode('Webhook', 'e2e-allfeat-get'),
			packageNode('Get Transaction', 'allfeatAts', { operation: 'getTransaction', transactionId: '={{ $json.body.transaction_id }}' }, 'allfeatAtsApi', [220, 0]),
			postItemNode('To sink', sinkUrl('/allfeat-get'), [440, 0]),
		]),
		linear('E2E: n8n Webhook → sink (latency baseline)', [webhookNode('Webhook', 'e2e-latency-baseline'), postItemNode('To sink', sinkUrl('/latency/webhook'), [220, 0])]),
	];
}
