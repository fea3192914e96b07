/**
 * Runs a webhook node inside n8n's engine the way n8n's webhook server does, behind a small real
 * HTTP server on 127.0.0.1: per request it reads the raw body (kept as `req.rawBody`, a Buffer, and
 * parsed into `req.body` like n8n's body parser), builds n8n-core's `WebhookContext` with the request
 * and response, calls the node's `webhook()`, and answers as n8n does from what it returns:
 * - `noWebhookResponse`: the node answered itself;
 * - no `workflowData`: `webhookResponse` (or n8n's "Webhook call received") with the response code;
 * - `workflowData`: the items are collected as one emission (the execution n8n would start) and the
 *   caller gets the "onReceived" answer;
 * - a thrown error: 500 "Workflow Webhook Error: Workflow could not be started!".
 * Workflow and credential store come from n8nEngine.ts. As in n8n, the workflow's static data
 * (`getWorkflowStaticData`) persists across calls; `staticData` seeds it, as n8n loads it from the
 * database after a restart, and `staticData()` reads it back as the JSON n8n would save.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { WebhookContext } from 'n8n-core';
import type { Workflow } from 'n8n-workflow';
import type {
	ICredentialDataDecryptedObject,
	IDataObject,
	INode,
	INodeExecutionData,
	INodeParameters,
	INodeType,
	IWebhookData,
	IWebhookDescription,
	IWorkflowExecuteAdditionalData,
	WorkflowExecuteMode,
} from 'n8n-workflow';

// Importing the engine harness also routes every node log line into `engineLogs`.
import { additionalDataFor, buildWorkflow } from './n8nEngine';

export interface WebhookNodeUnderTest {
	nodeType: INodeType;
	parameters: INodeParameters;
	credentials: Record<string, ICredentialDataDecryptedObject>;
	/** `webhook` (production URL, the default) or `manual` (the editor's test URL). */
	mode?: WorkflowExecuteMode;
	/** The workflow's static data at start, e.g. `staticData()` of an earlier run. */
	staticData?: IDataObject;
}

export interface WebhookCall {
	status: number;
	body: string;
}

export interface ServedWebhook {
	/** POST deliveries here. */
	readonly url: string;
	/** Items of each started execution, one array per accepted call. */
	readonly emissions: INodeExecutionData[][];
	/** Flattened json of every emitted item. */
	items(): IDataObject[];
	/** Errors thrown by the node's webhook(). */
	readonly errors: Error[];
	/** The workflow's static data, as the JSON n8n saves. */
	staticData(): IDataObject;
	close(): Promise<void>;
}

const WEBHOOK_PATH = '/webhook/allfeat-test';

/** Serves one webhook node on a random port of 127.0.0.1. */
export async function serveWebhookNode(subject: WebhookNodeUnderTest): Promise<ServedWebhook> {
	const { workflow, node } = buildWorkflow(subject);
	if (subject.staticData) Object.assign(workflow.staticData, JSON.parse(JSON.stringify(subject.staticData)) as IDataObject);
	const description = subject.nodeType.description.webhooks?.[0];
	if (!description || !subject.nodeType.webhook) throw new Error(`${subject.nodeType.description.name} is not a webhook node`);
	const emissions: INodeExecutionData[][] = [];
	const errors: Error[] = [];

	const server = createServer((req, res) => {
		void handle(req, res).catch((error: unknown) => {
			errors.push(error as Error);
			if (!res.headersSent) reply(res, 500, { code: 500, message: 'Workflow Webhook Error: Workflow could not be started!' });
		});
	});
	const handle = async (req: IncomingMessage, res: ServerResponse) => {
		if (req.method !== description.httpMethod || new URL(req.url ?? '/', 'http://127.0.0.1').pathname !== WEBHOOK_PATH) {
			reply(res, 404, { code: 404, message: 'The requested webhook is not registered.' });
			return;
		}
		const parsed = await readBody(req);
		if (!parsed.ok) {
			reply(res, 422, { code: 422, message: 'Failed to parse request body', hint: parsed.message });
			return;
		}
		const additionalData = { ...additionalDataFor(subject.credentials), httpRequest: req, httpResponse: withExpressMethods(res) } as IWorkflowExecuteAdditionalData;
		const context = new WebhookContext(workflow, node, additionalData, subject.mode ?? 'webhook', webhookDataFor(workflow, node, description, additionalData), [], null);
		const result = await subject.nodeType.webhook!.call(context);
		if (result.noWebhookResponse === true) return;
		if (result.workflowData === undefined) {
			reply(res, 200, result.webhookResponse ?? { message: 'Webhook call received' });
			return;
		}
		emissions.push(result.workflowData[0] ?? []);
		reply(res, 200, result.webhookResponse ?? { message: 'Workflow was started' });
	};

	const port = await listen(server);
	return {
		url: `http://127.0.0.1:${port}${WEBHOOK_PATH}`,
		emissions,
		items: () => emissions.flat().map((item) => item.json),
		errors,
		staticData: () => JSON.parse(JSON.stringify(workflow.staticData)) as IDataObject,
		close: async () => await closeServer(server),
	};
}

/**
 * What n8n's `rawBodyReader` + `parseBody` leave on the request: `rawBody` always, `contentType`
 * without parameters, and `body` parsed for JSON (a JSON parse failure is n8n's 422) or kept as text.
 */
async function readBody(req: IncomingMessage): Promise<{ ok: true } | { ok: false; message: string }> {
	const chunks: Buffer[] = [];
	for await (const chunk of req) chunks.push(chunk as Buffer);
	const rawBody = Buffer.concat(chunks);
	const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
	const request = req as IncomingMessage & { body?: unknown; params?: object; query?: object };
	request.rawBody = rawBody;
	request.readRawBody = async () => undefined;
	request.contentType = contentType;
	request.encoding = 'utf8';
	request.params = {};
	request.query = Object.fromEntries(new URL(req.url ?? '/', 'http://127.0.0.1').searchParams);
	request.body = {};
	if (rawBody.length === 0) return { ok: true };
	if (contentType === 'application/json') {
		try {
			request.body = JSON.parse(rawBody.toString('utf8')) as unknown;
		} catch (error) {
			return { ok: false, message: (error as Error).message };
		}
	} else if (contentType === 'text/plain') {
		request.body = rawBody.toString('utf8');
	}
	return { ok: true };
}

/** The few express response methods nodes commonly use, on Node's own response. */
function withExpressMethods(res: ServerResponse): ServerResponse {
	const express = res as ServerResponse & { status(code: number): unknown; json(body: unknown): unknown; send(body: unknown): unknown };
	express.status = (code: number) => {
		res.statusCode = code;
		return express;
	};
	express.json = (body: unknown) => {
		reply(res, res.statusCode, body);
		return express;
	};
	express.send = (body: unknown) => (typeof body === 'string' || Buffer.isBuffer(body) ? res.end(body) : express.json(body));
	return express;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
	const text = JSON.stringify(body);
	res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
	res.end(text);
}

function webhookDataFor(workflow: Workflow, node: INode, description: IWebhookDescription, additionalData: IWorkflowExecuteAdditionalData): IWebhookData {
	return {
		httpMethod: 'POST',
		node: node.name,
		path: WEBHOOK_PATH,
		webhookDescription: description,
		workflowId: workflow.id,
		workflowExecuteAdditionalData: additionalData,
		webhookId: node.webhookId,
	};
}

function listen(server: Server): Promise<number> {
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			server.off('error', reject);
			const address = server.address();
			resolve(typeof address === 'object' && address !== null ? address.port : 0);
		});
	});
}

function closeServer(server: Server): Promise<void> {
	return new Promise((resolve) => {
		server.close(() => resolve());
		// fetch keeps connections alive; they would hold `close` open.
		server.closeAllConnections();
	});
}
