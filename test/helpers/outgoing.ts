import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

/** Node publishes every `http.request` / `https.request` it starts here (WebSocket upgrades included, `ws` uses them). */
const REQUEST_STARTED = 'http.client.request.start';

export interface OutgoingRequests {
	/** Requests and upgrades started since counting began. */
	readonly started: number;
	/** Of those, plain HTTP requests whose response has been read to its end (upgrades never count here). */
	readonly answered: number;
	/** The path (and query) of each one started, in order. */
	readonly paths: readonly string[];
	stop(): void;
}

/**
 * Counts the HTTP requests and WebSocket upgrades this process starts from now on, as the client
 * side sees them. Unlike the emulator's counters, a request already sent before counting began is
 * not in it when it lands later, so "nothing new after X" needs no grace period for stragglers; and
 * `answered` tells when a response has reached the client, which the server side cannot.
 */
export function countOutgoingRequests(): OutgoingRequests {
	let started = 0;
	let answered = 0;
	const paths: string[] = [];
	const onStart = (message: unknown) => {
		started += 1;
		const { request } = message as { request: ClientRequest };
		paths.push(request.path);
		request.once('response', (response: IncomingMessage) => response.once('end', () => (answered += 1)));
	};
	subscribe(REQUEST_STARTED, onStart);
	return {
		get started() {
			return started;
		},
		get answered() {
			return answered;
		},
		paths,
		stop: () => unsubscribe(REQUEST_STARTED, onStart),
	};
}
