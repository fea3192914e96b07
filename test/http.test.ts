/** The shared JSON-over-HTTP client, against a real HTTP server on 127.0.0.1. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ServiceUnreachableError, requestJson } from '../nodes/shared/http';
import { createRedactor } from '../nodes/shared/redact';
import { activeTimerCount, eventually } from './helpers/wait';

const SECRET = 'http-secret-key-1234';
const redact = createRedactor([SECRET]);

test('a cancelled request ends at once, with a redacted message, and leaves no timer behind', async () => {
	// A server that never answers: only the cancel can end the request.
	const server = createServer(() => undefined);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	const timersBefore = activeTimerCount();
	const controller = new AbortController();
	const pending = requestJson({ method: 'GET', url: `http://127.0.0.1:${port}/job-status/${SECRET}/1`, timeoutMs: 60_000, signal: controller.signal }, redact);
	await eventually(() => expect(activeTimerCount()).toBeGreaterThan(timersBefore));
	controller.abort();
	const error = (await pending.catch((e: unknown) => e)) as Error;
	expect(error).toBeInstanceOf(ServiceUnreachableError);
	expect(error.message).toBe(`GET http://127.0.0.1:${port}/job-status/[redacted]/1 was cancelled`);
	await eventually(() => expect(activeTimerCount()).toBe(timersBefore));
	server.closeAllConnections();
	await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('a request without an answer in time is a clear timeout error', async () => {
	const server = createServer(() => undefined);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	const error = (await requestJson({ method: 'GET', url: `http://127.0.0.1:${port}/x?apiKey=${SECRET}`, timeoutMs: 100 }, redact).catch((e: unknown) => e)) as Error;
	expect(error.message).toBe(`GET http://127.0.0.1:${port}/x?apiKey=[redacted] got no answer within 100 ms`);
	server.closeAllConnections();
	await new Promise<void>((resolve) => server.close(() => resolve()));
});
