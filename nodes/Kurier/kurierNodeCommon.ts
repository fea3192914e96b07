import { NodeOperationError } from 'n8n-workflow';
import type { ICredentialTestFunctions, ICredentialsDecrypted, INode, INodeCredentialTestResult, INodeProperties } from 'n8n-workflow';

import { clientForCredential } from '../shared/n8n';
import type { CredentialReader } from '../shared/n8n';
import { redactedMessage } from '../shared/redact';
import { KurierApiClient, resolveKurierConnection } from './KurierApiClient';
import { isKurierJobId } from './protocol';
import { CredentialError } from '../shared/credentialFields';

/** n8n glue shared by the Kurier nodes: credential, credential test, the job id parameter. */

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
	description: description ?? 'The jobId that Submit Proof returned',
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
