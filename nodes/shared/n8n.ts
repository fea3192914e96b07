import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import type { IDataObject, INode, JsonObject } from 'n8n-workflow';

import { ServiceApiError, ServiceUnreachableError } from './http';
import type { NormalizedItem } from './NormalizedItem';
import type { Redactor } from './redact';
import { redactedMessage } from './redact';
import { SocketFatalError } from './ReconnectingSocket';

/**
 * Turns the protocol layer's errors into n8n's: NodeApiError for what the service said or did,
 * NodeOperationError for everything else. Messages are redacted once more on the way out, and no
 * raw response object is attached (n8n shows `errorResponse` to the user and stores it).
 */
export function toNodeError(node: INode, error: unknown, redact: Redactor, itemIndex?: number): NodeApiError | NodeOperationError {
	if (error instanceof NodeApiError || error instanceof NodeOperationError) return error;
	const message = redactedMessage(error, redact);
	if (error instanceof ServiceApiError) {
		const response: JsonObject = { message, httpCode: String(error.httpStatus), code: error.serviceCode };
		return new NodeApiError(node, response, {
			message,
			httpCode: String(error.httpStatus),
			description: describeStatus(error.httpStatus),
			itemIndex,
		});
	}
	// n8n may replace a message that names a network error code (ECONNREFUSED…) with its own
	// wording, so the description repeats ours: it says which URL (redacted) could not be reached.
	if (error instanceof ServiceUnreachableError) {
		return new NodeApiError(node, { message }, { message, description: `${message}. ${UNREACHABLE_HINT}`, itemIndex });
	}
	if (error instanceof SocketFatalError) {
		const httpCode = error.kind === 'auth' ? String(error.httpStatus ?? 401) : undefined;
		return new NodeApiError(node, { message }, { message, httpCode, description: describeSocketFailure(error, message), itemIndex });
	}
	return new NodeOperationError(node, message, { itemIndex });
}

function describeStatus(status: number): string | undefined {
	if (status === 401 || status === 403) return 'The service refused the credentials. Check the key or token in the credential (and that it belongs to the chosen network or environment).';
	if (status === 404) return 'The service does not know this id for this API key.';
	if (status === 429) return 'The service is rate limiting this API key. Try again later.';
	if (status >= 500) return 'The service had an internal error. Try again later.';
	return undefined;
}

const UNREACHABLE_HINT = 'Check the base URL in the credential and that the service is reachable from n8n.';

function describeSocketFailure(error: SocketFatalError, message: string): string {
	switch (error.kind) {
		case 'auth':
			return 'The WebSocket was refused because of the credentials. The trigger will not retry until they are fixed.';
		case 'unreachable':
			return `${message}. ${UNREACHABLE_HINT}`;
		default:
			return 'The service refused this request.';
	}
}

/** A normalized item as n8n item JSON (it is plain JSON; the cast only widens the type). */
export function asItemJson(item: NormalizedItem): IDataObject {
	return item as unknown as IDataObject;
}
