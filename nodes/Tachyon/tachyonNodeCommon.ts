import { NodeOperationError } from 'n8n-workflow';
import type { ICredentialTestFunctions, ICredentialsDecrypted, INode, INodeCredentialTestResult } from 'n8n-workflow';

import { clientForCredential } from '../shared/n8n';
import type { CredentialReader } from '../shared/n8n';
import { redactedMessage } from '../shared/redact';
import { TachyonApiClient, resolveTachyonConnection } from './TachyonApiClient';
import type { TachyonCredentialFields } from './TachyonApiClient';
import { CredentialError } from '../shared/credentialFields';

/** n8n glue shared by the Tachyon nodes: credential, credential test, id list parameters. */

// The nodes' `testedBy` repeats this name as a literal (n8n's scanner reads only a literal there);
// test/package.test.ts checks that each names its node's credential test.
export const TACHYON_CREDENTIAL_TEST = 'tachyonApiCredentialTest';

/** The client for the node's `tachyonApi` credential (a NodeOperationError when it cannot work). */
export async function tachyonClientFor(context: CredentialReader): Promise<TachyonApiClient> {
	return await clientForCredential(context, 'tachyonApi', ['apiKey', 'dashboardJwt', 'wsKey'], (fields) => new TachyonApiClient(resolveTachyonConnection(fields as TachyonCredentialFields)));
}

/** Checks the API key and, when set, the dashboard JWT against the service (see verifyCredential). */
export async function tachyonApiCredentialTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	let client: TachyonApiClient;
	try {
		client = new TachyonApiClient(resolveTachyonConnection(credential.data ?? {}), 15_000);
	} catch (error) {
		return { status: 'Error', message: error instanceof CredentialError ? error.message : String(error) };
	}
	try {
		const { valid, message } = await client.verifyCredential();
		return { status: valid ? 'OK' : 'Error', message };
	} catch (error) {
		return { status: 'Error', message: redactedMessage(error, client.redact) };
	}
}

/** Chain ids as numbers, so that a typo is a clear error instead of a filter that never matches. */
export function parseChainIdList(node: INode, value: unknown): number[] {
	const parts = String(value ?? '').split(/[\s,]+/).filter(Boolean);
	const invalid = parts.filter((part) => !/^\d+$/.test(part) || Number(part) === 0);
	if (invalid.length > 0) {
		throw new NodeOperationError(node, `Chain IDs must be positive whole numbers; "${invalid.join('", "')}" ${invalid.length === 1 ? 'is' : 'are'} not`, {
			description: 'Separate chain IDs with commas, e.g. 8453, 42161.',
		});
	}
	return [...new Set(parts.map(Number))];
}

/** A transaction id from a parameter, trimmed; missing or containing spaces is a clear error. */
export function readTxId(node: INode, value: unknown, itemIndex?: number): string {
	const txId = String(value ?? '').trim();
	if (!txId) {
		throw new NodeOperationError(node, 'No transaction ID given', {
			itemIndex,
			description: "Map the txId returned by Relay Transaction, e.g. {{ $json.txId }}.",
		});
	}
	if (/\s/.test(txId)) {
		throw new NodeOperationError(node, `"${txId}" is not a Tachyon transaction ID`, {
			itemIndex,
			description: 'Tachyon transaction IDs have no spaces, like 68fa3450539a3c9d28bbca33.',
		});
	}
	return txId;
}

/**
 * The Authorization List parameter: JSON text, or the array an expression gives. Only parsed here;
 * the tuples are checked with the rest of the relay request (protocol.ts), before anything is sent.
 */
export function readAuthorizationList(node: INode, value: unknown, itemIndex?: number): unknown {
	if (typeof value !== 'string') return value;
	try {
		return JSON.parse(value) as unknown;
	} catch {
		throw new NodeOperationError(node, 'Authorization List is not valid JSON', {
			itemIndex,
			description: 'Give a JSON array, e.g. [{"chainId": 8453, "address": "0x…", "nonce": 0, "r": "0x…", "s": "0x…", "yParity": 0}]. Nothing was sent to Tachyon.',
		});
	}
}
