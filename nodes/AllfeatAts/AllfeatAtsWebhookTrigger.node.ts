import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IDataObject, INodeType, INodeTypeDescription, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';

import { NodeConnectionTypes } from '../shared/connectionTypes';
import { asItemJson } from '../shared/n8n';
import type { Redactor } from '../shared/redact';
import { createRedactor, redactedMessage } from '../shared/redact';
import type { AllfeatCredentialFields } from './AllfeatAtsApiClient';
import { ALLFEAT_CREDENTIAL_TEST, allfeatAtsApiCredentialTest } from './allfeatAtsNodeCommon';
import type { AllfeatWebhookEvent } from './protocol';
import { ALLFEAT_WEBHOOK_EVENTS, normalizeWebhookEvent, webhookEventSchema } from './protocol';
import { READABLE_ISSUES } from '../shared/validation';
import { DEFAULT_DELIVERY_LIMITS, RecentDeliveries } from './recentDeliveries';
import type { SignatureRejection } from './webhookSignature';
import { decodeWebhookSecret, verifyAllfeatSignature } from './webhookSignature';

const REJECTION_MESSAGES: Record<SignatureRejection, string> = {
	missing: 'X-Allfeat-Signature header missing',
	malformed: 'X-Allfeat-Signature header malformed (expected t=<unix seconds>,v1=<hex>)',
	stale: 'signature timestamp outside the 300 s tolerance',
	mismatch: 'signature does not match',
};

export class AllfeatAtsWebhookTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Allfeat ATS Webhook Trigger',
		name: 'allfeatAtsWebhookTrigger',
		icon: { light: 'file:allfeatAtsWebhookTrigger.svg', dark: 'file:allfeatAtsWebhookTrigger.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{$parameter["events"]?.length ? "On " + $parameter["events"].join(", ") : "On every signed event"}}',
		description: 'Starts the workflow when Allfeat\'s signed webhook reports a work registered, updated or failed',
		eventTriggerDescription: 'Waiting for Allfeat to send a signed webhook to the test URL',
		activationMessage: 'Your workflow will now run each time Allfeat sends a signed webhook to the production URL.',
		defaults: { name: 'Allfeat ATS Webhook Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'allfeatAtsApi', required: true, testedBy: 'allfeatAtsApiCredentialTest' }],
		webhooks: [{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'allfeat-ats' }],
		properties: [
			{
				displayName:
					'Give this node\'s production URL as the webhook_url when you create the Allfeat API key, and put the webhook_secret_base64 you get back into the credential\'s Webhook Secret. Deliveries without a valid signature are answered 401.',
				name: 'setupNotice',
				type: 'notice',
				default: '',
			},
			{
				displayName: 'Events',
				name: 'events',
				type: 'multiOptions',
				options: ALLFEAT_WEBHOOK_EVENTS.map((event) => ({ name: event, value: event })),
				default: [],
				description: 'Only start the workflow for these events (others are acknowledged and dropped). Empty: every event.',
			},
			{
				displayName: 'Drop Repeated Deliveries',
				name: 'dropRepeats',
				type: 'boolean',
				default: true,
				description: `Whether to answer a repeat of a delivery already received (same transaction_id and same event; Allfeat may deliver one twice) with 200 and start nothing. The last ${DEFAULT_DELIVERY_LIMITS.maxEntries.toLocaleString('en-US')} deliveries of the past ${DEFAULT_DELIVERY_LIMITS.maxAgeSeconds / 3600} h are remembered in the workflow's static data. Not applied to test events.`,
			},
		],
	};

	methods = { credentialTest: { [ALLFEAT_CREDENTIAL_TEST]: allfeatAtsApiCredentialTest } };

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const request = this.getRequestObject() as IncomingMessage;
		const response = this.getResponseObject() as ServerResponse;
		// Only the secret matters here: a base URL the trigger never calls must not break deliveries.
		const { webhookSecret, apiKey } = await this.getCredentials<AllfeatCredentialFields>('allfeatAtsApi');
		const secret = typeof webhookSecret === 'string' ? webhookSecret : '';
		const redact = createRedactor([secret, typeof apiKey === 'string' ? apiKey : null]);
		const reply = (status: number, error: string, message: string): IWebhookResponseData => {
			respondJson(response, status, { error, message });
			return { noWebhookResponse: true };
		};

		let key: Buffer;
		try {
			key = decodeWebhookSecret(secret);
		} catch (error) {
			// Our configuration, not the sender's fault: a 5xx makes Allfeat retry while it is fixed.
			this.logger.error(`Allfeat ATS webhook refused: the credential has no usable webhook secret. ${redactedMessage(error, redact)}`);
			return reply(500, 'webhook_secret_not_configured', 'The receiving workflow has no usable webhook secret');
		}

		const rawBody = await rawBodyOf(request);
		if (rawBody === null) {
			this.logger.error('Allfeat ATS webhook refused: n8n did not provide the raw request body, so the signature cannot be checked');
			return reply(500, 'raw_body_unavailable', 'The raw request body is not available');
		}
		const check = verifyAllfeatSignature(
			{ signatureHeader: headerOf(request, 'x-allfeat-signature'), timestampHeader: headerOf(request, 'x-allfeat-timestamp'), rawBody },
			key,
			Math.floor(Date.now() / 1000),
		);
		if (!check.valid) {
			this.logger.warn(`Allfeat ATS webhook refused with 401: ${REJECTION_MESSAGES[check.reason]}`);
			return reply(401, 'invalid_signature', REJECTION_MESSAGES[check.reason]);
		}

		const payload = parsePayload(rawBody, redact);
		if (!payload.ok) {
			this.logger.warn(`Allfeat ATS webhook refused with 400: ${payload.message}`);
			return reply(400, 'invalid_payload', payload.message);
		}
		const events = this.getNodeParameter('events', []) as string[];
		if (events.length > 0 && !events.includes(payload.event.event)) {
			this.logger.debug(`Allfeat ATS webhook: event ${payload.event.event} is not among the selected events; acknowledged and dropped`);
			return { webhookResponse: { received: true, ignored: payload.event.event } };
		}
		// Only verified deliveries reach the record, so a forged call cannot make a real one look like a repeat.
		if (this.getMode() !== 'manual' && (this.getNodeParameter('dropRepeats', true) as boolean)) {
			const recent = new RecentDeliveries(this.getWorkflowStaticData('node'));
			if (recent.admit(payload.event, Math.floor(Date.now() / 1000)) === 'repeat') {
				this.logger.info(`Allfeat ATS webhook: ${payload.event.event} for transaction ${payload.event.transaction_id} was already received; acknowledged and dropped`);
				return { webhookResponse: { received: true, duplicate: true } };
			}
		}
		const item = normalizeWebhookEvent(payload.event, new Date().toISOString());
		return { workflowData: [this.helpers.returnJsonArray([asItemJson(item)])] };
	}
}

/**
 * n8n keeps the bytes it received as `req.rawBody` (it reads them before parsing). The signature is
 * over exactly those bytes, so a re-serialized `req.body` is never used in their place.
 */
async function rawBodyOf(request: IncomingMessage): Promise<Buffer | null> {
	if (!Buffer.isBuffer(request.rawBody) && typeof request.readRawBody === 'function') await request.readRawBody();
	return Buffer.isBuffer(request.rawBody) ? request.rawBody : null;
}

function headerOf(request: IncomingMessage, name: string): string | undefined {
	const value = request.headers[name];
	return Array.isArray(value) ? value.join(',') : value;
}

type ParsedPayload = { ok: true; event: AllfeatWebhookEvent } | { ok: false; message: string };

function parsePayload(rawBody: Buffer, redact: Redactor): ParsedPayload {
	let json: unknown;
	try {
		json = JSON.parse(rawBody.toString('utf8'));
	} catch {
		return { ok: false, message: 'the body is not JSON' };
	}
	const parsed = webhookEventSchema.safeParse(json, READABLE_ISSUES);
	if (parsed.success) return { ok: true, event: parsed.data };
	const issue = parsed.error.issues[0];
	return { ok: false, message: redact(`the body is not an Allfeat ATS event (${issue?.path.map(String).join('.') || 'body'}: ${issue?.message ?? 'invalid'})`) };
}

/** Node's own response API (what express's extends), so it works whatever wraps the response. */
function respondJson(response: ServerResponse, status: number, body: IDataObject): void {
	const text = JSON.stringify(body);
	response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
	response.end(text);
}
