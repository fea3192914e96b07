import { NodeOperationError } from 'n8n-workflow';
import type {
	ICredentialTestFunctions,
	ICredentialsDecrypted,
	ILoadOptionsFunctions,
	INode,
	INodeCredentialTestResult,
	INodeProperties,
	INodePropertyOptions,
} from 'n8n-workflow';

import { clientForCredential } from '../shared/n8n';
import type { CredentialReader } from '../shared/n8n';
import { redactedMessage } from '../shared/redact';
import { KurierApiClient, resolveKurierConnection } from './KurierApiClient';
import { KURIER_FALLBACK_PROOF_TYPES, KURIER_PROOF_TYPE_HINTS, isKurierJobId } from './protocol';
import { CredentialError } from '../shared/credentialFields';

/** n8n glue shared by the Kurier nodes: credential, credential test, the job id parameter. */

// The nodes' `testedBy` repeats this name as a literal (n8n's scanner reads only a literal there);
// test/package.test.ts checks that each names its node's credential test.
export const KURIER_CREDENTIAL_TEST = 'kurierApiCredentialTest';

/** The client for the node's `kurierApi` credential (a NodeOperationError when it cannot work). */
export async function kurierClientFor(context: CredentialReader): Promise<KurierApiClient> {
	return await clientForCredential(context, 'kurierApi', ['apiKey'], (fields) => new KurierApiClient(resolveKurierConnection(fields)));
}

/** Tells a refused key from an accepted one by asking for a job that cannot exist. */
export async function kurierApiCredentialTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	let client: KurierApiClient;
	try {
		client = new KurierApiClient(resolveKurierConnection(credential.data ?? {}), 15_000);
	} catch (error) {
		return { status: 'Error', message: error instanceof CredentialError ? error.message : String(error) };
	}
	try {
		const { valid, message } = await client.verifyApiKey();
		return { status: valid ? 'OK' : 'Error', message };
	} catch (error) {
		return { status: 'Error', message: redactedMessage(error, client.redact) };
	}
}

export const jobIdProperty = (displayOptions: INodeProperties['displayOptions'], description?: string): INodeProperties => ({
	displayName: 'Job ID',
	name: 'jobId',
	type: 'string',
	default: '',
	required: true,
	placeholder: '23382e04-3d57-11f0-af7b-32a805cdbfd3',
	description: description ?? 'The Kurier proof job ID (a UUID such as 23382e04-3d57-11f0-af7b-32a805cdbfd3) that Submit Proof returned',
	displayOptions,
});

/** The job id parameter, trimmed and checked, so a typo is a clear error before anything is sent. */
export function readJobId(node: INode, value: unknown, itemIndex?: number): string {
	const jobId = String(value ?? '').trim();
	if (!jobId) {
		throw new NodeOperationError(node, 'No job ID given', {
			itemIndex,
			description: 'Map the jobId returned by Kurier\'s Submit Proof, e.g. {{ $json.jobId }}.',
		});
	}
	if (!isKurierJobId(jobId)) {
		throw new NodeOperationError(node, `"${jobId}" is not a Kurier job ID`, {
			itemIndex,
			description: 'Kurier job IDs are UUIDs, like 23382e04-3d57-11f0-af7b-32a805cdbfd3.',
		});
	}
	return jobId;
}

/**
 * The proof-type list: what the service's `GET /status` says it accepts now (the live lists differ
 * per network: `ezkl` on testnet only, no `tee`), or the built-in list when the credential is
 * missing or the service cannot be read. Never throws: the editor always gets a list.
 */
export async function kurierProofTypeOptions(context: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const option = (type: string): INodePropertyOptions => ({ name: type, value: type, description: KURIER_PROOF_TYPE_HINTS[type] });
	try {
		const fields = (await context.getCredentials('kurierApi')) as Record<string, unknown>;
		const client = new KurierApiClient(resolveKurierConnection(fields), 10_000);
		const types = await client.getSupportedProofTypes();
		return types.map(option);
	} catch (error) {
		context.logger?.debug(`Kurier: reading the proof types from GET /status failed, using the built-in list: ${error instanceof Error ? error.name : 'error'}`);
		return KURIER_FALLBACK_PROOF_TYPES.map(option);
	}
}
