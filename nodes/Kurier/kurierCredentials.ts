import type { ICredentialTestFunctions, ICredentialsDecrypted, INodeCredentialTestResult } from 'n8n-workflow';

import { redactedMessage } from '../shared/redact';
import { KurierApiClient, KurierConfigurationError, resolveKurierConnection } from './KurierApiClient';

export const KURIER_CREDENTIAL_TEST = 'kurierApiCredentialTest';

interface CredentialReader {
	getCredentials(type: string): Promise<object>;
}

/** The client for the node's `kurierApi` credential. Throws KurierConfigurationError on an unusable credential. */
export async function kurierClientFor(context: CredentialReader): Promise<KurierApiClient> {
	const credentials = await context.getCredentials('kurierApi');
	return new KurierApiClient(resolveKurierConnection(credentials));
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
		return { status: 'Error', message: error instanceof KurierConfigurationError ? error.message : String(error) };
	}
	try {
		const { valid, message } = await client.verifyApiKey();
		return { status: valid ? 'OK' : 'Error', message };
	} catch (error) {
		return { status: 'Error', message: redactedMessage(error, client.redact) };
	}
}
