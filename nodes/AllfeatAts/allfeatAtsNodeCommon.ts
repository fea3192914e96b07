import { randomUUID } from 'node:crypto';

import { NodeOperationError } from 'n8n-workflow';
import type { ICredentialTestFunctions, ICredentialsDecrypted, INode, INodeCredentialTestResult, INodeProperties } from 'n8n-workflow';

import { clientForCredential } from '../shared/n8n';
import type { CredentialReader } from '../shared/n8n';
import { redactedMessage } from '../shared/redact';
import { AllfeatAtsApiClient, resolveAllfeatConnection } from './AllfeatAtsApiClient';
import type { AllfeatConnection } from './AllfeatAtsApiClient';
import { ALLFEAT_PHASES, isAllfeatTransactionId, isOrganizationApiKey } from './protocol';
import { splitIdList } from '../shared/idList';
import { WebhookSecretError, decodeWebhookSecret } from './webhookSignature';
import { CredentialError } from '../shared/credentialFields';

/** n8n glue shared by the Allfeat ATS nodes: credential, credential test, transaction id parameters. */

// The nodes' `testedBy` repeats this name as a literal (n8n's scanner reads only a literal there);
// test/package.test.ts checks that each names its node's credential test.
export const ALLFEAT_CREDENTIAL_TEST = 'allfeatAtsApiCredentialTest';

const EXAMPLE_ID = '6f1c2a4e-9b7d-4c3e-8f21-0a5b6c7d8e9f';

/** The client for the node's `allfeatAtsApi` credential (a NodeOperationError when it cannot work). */
export async function allfeatClientFor(context: CredentialReader): Promise<AllfeatAtsApiClient> {
	return await clientForCredential(context, 'allfeatAtsApi', ['apiKey', 'webhookSecret'], (fields) => new AllfeatAtsApiClient(resolveAllfeatConnection(fields)));
}

/**
 * Checks what can be checked: the host serves tracking without credentials (see checkService), the
 * webhook secret decodes, the API key has the documented `afo_sk_…` form, and, when the key and the
 * organization id are both set, that the registration routes accept them: a `prepare` of a random
 * job id has no side effect, and its 404 `registration.upload_session_not_found` comes only after the
 * key, the organization and the `works:register` scope were accepted.
 */
export async function allfeatAtsApiCredentialTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	let client: AllfeatAtsApiClient;
	let connection: AllfeatConnection;
	try {
		connection = resolveAllfeatConnection(credential.data ?? {});
		if (connection.webhookSecret) decodeWebhookSecret(connection.webhookSecret);
		if (connection.apiKey && !isOrganizationApiKey(connection.apiKey)) {
			return {
				status: 'Error',
				message:
					'The API key is not an Allfeat organization key (afo_sk_live_ followed by 48 hex characters). Widget keys (cpk_…, csk_…) and the webhook secret do not belong here; leave it empty if you only track transactions.',
			};
		}
		client = new AllfeatAtsApiClient(connection, 15_000);
	} catch (error) {
		const known = error instanceof CredentialError || error instanceof WebhookSecretError;
		return { status: 'Error', message: known ? error.message : 'The credential could not be read' };
	}
	try {
		const { ok, message } = await client.checkService();
		if (!ok) return { status: 'Error', message };
		if (connection.apiKey && connection.organizationId) return await checkRegistrationAccess(client);
		const keyNote = connection.apiKey
			? ' The API key has the organization-key form; tracking does not use it, so it was not sent (set the Organization ID too, and the test checks it on the registration routes).'
			: connection.organizationId
				? ' The Organization ID is set but no API key: registering works needs both.'
				: '';
		return { status: 'OK', message: message + keyNote };
	} catch (error) {
		return { status: 'Error', message: redactedMessage(error, client.redact) };
	}
}

/** What each refusal of the probe means, as the credential test says it. */
const PROBE_REFUSALS: Record<string, string> = {
	'api_key.invalid_format': 'Allfeat says the API key is malformed: paste the whole afo_sk_live_… key.',
	'api_key.not_found': 'Allfeat does not know this API key: check it, or create a new one in the Allfeat dashboard.',
	'api_key.revoked': 'This API key was revoked: create a new key in the Allfeat dashboard.',
	'api_key.org_mismatch': 'The API key does not belong to this Organization ID: set the id of the organization that issued the key.',
	'api_key.scope_denied': 'The API key lacks the works:register scope, which Register Work needs (Add Version needs works:update): add it in the Allfeat dashboard.',
	'api_key.org_inactive': 'The organization is inactive: Allfeat refuses its registrations until it is reactivated.',
};

async function checkRegistrationAccess(client: AllfeatAtsApiClient): Promise<INodeCredentialTestResult> {
	const registration = client.registration();
	const response = await registration.probePrepare(randomUUID());
	const error = registration.errorFrom(response, 'prepare');
	if (response.status === 404 && error.serviceCode === 'registration.upload_session_not_found') {
		return { status: 'OK', message: 'Allfeat accepted the API key, the organization and the works:register scope (checked with a prepare of an unknown job: nothing was created).' };
	}
	const refusal = error.serviceCode ? PROBE_REFUSALS[error.serviceCode] : undefined;
	const requestId = error.requestId ? `, request_id ${error.requestId}` : '';
	if (refusal) return { status: 'Error', message: `${refusal} [HTTP ${response.status}, ${error.serviceCode}${requestId}]` };
	return { status: 'Error', message: `The registration check did not answer as expected: ${error.message}` };
}

export const transactionIdProperty = (displayOptions: INodeProperties['displayOptions']): INodeProperties => ({
	displayName: 'Transaction ID',
	name: 'transactionId',
	type: 'string',
	default: '',
	required: true,
	placeholder: EXAMPLE_ID,
	description: 'The Allfeat ATS transaction ID (a UUID) of a work registration: the transaction_id that Allfeat\'s confirm call returned',
	displayOptions,
});

export const transactionIdsProperty: INodeProperties = {
	displayName: 'Transaction IDs',
	name: 'transactionIds',
	type: 'string',
	typeOptions: { rows: 3 },
	default: '',
	required: true,
	placeholder: `${EXAMPLE_ID}, …`,
	description:
		'One or several transaction_id values returned by Allfeat\'s confirm calls, separated by commas, spaces or new lines. Steps a transaction already passed are emitted at once.',
};

export const stepsProperty: INodeProperties = {
	displayName: 'Steps',
	name: 'steps',
	type: 'multiOptions',
	options: ALLFEAT_PHASES.knownStatuses().map((step) => ({ name: step, value: step })),
	default: [],
	description: 'Only start the workflow for these steps. Empty: every step. An unknown transaction ID is always reported.',
};

/** The ids of the trigger's parameter, trimmed, de-duplicated and checked before anything is sent. */
export function readTransactionIds(node: INode, value: unknown): string[] {
	const ids = splitIdList(value);
	if (ids.length === 0) {
		throw new NodeOperationError(node, 'No transaction ID given', {
			description: 'Map the transaction_id returned by Allfeat\'s confirm call, e.g. {{ $json.transaction_id }}, or list several separated by commas.',
		});
	}
	const invalid = ids.filter((id) => !isAllfeatTransactionId(id));
	if (invalid.length > 0) throw notATransactionId(node, invalid);
	return ids;
}

/** One transaction id, for the action node's operations. */
export function readTransactionId(node: INode, value: unknown, itemIndex?: number): string {
	const ids = splitIdList(value);
	if (ids.length === 0) {
		throw new NodeOperationError(node, 'No transaction ID given', {
			itemIndex,
			description: 'Map the transaction_id returned by Allfeat\'s confirm call, e.g. {{ $json.transaction_id }}.',
		});
	}
	if (ids.length > 1) {
		throw new NodeOperationError(node, `Give one transaction ID per item, not ${ids.length}`, {
			itemIndex,
			description: 'To follow several transactions at once, use the Allfeat ATS Trigger, or split them into one item each.',
		});
	}
	if (!isAllfeatTransactionId(ids[0])) throw notATransactionId(node, ids, itemIndex);
	return ids[0];
}

function notATransactionId(node: INode, invalid: string[], itemIndex?: number): NodeOperationError {
	const quoted = invalid.map((id) => `"${id.length > 60 ? `${id.slice(0, 60)}…` : id}"`).join(', ');
	return new NodeOperationError(node, `${quoted} ${invalid.length === 1 ? 'is not an Allfeat ATS transaction ID' : 'are not Allfeat ATS transaction IDs'}`, {
		itemIndex,
		description: `Allfeat ATS transaction IDs are UUIDs, like ${EXAMPLE_ID}.`,
	});
}
