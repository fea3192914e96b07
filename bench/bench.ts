import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';

import { KurierApiClient } from '../nodes/Kurier/KurierApiClient';
import { KurierJobStream } from '../nodes/Kurier/KurierJobStream';
import { kurierStatusRank } from '../nodes/Kurier/protocol';
import { ReconnectingSocket } from '../nodes/shared/ReconnectingSocket';
import type { BackoffOptions } from '../nodes/shared/ReconnectingSocket';
import { TransitionTracker } from '../nodes/shared/TransitionTracker';

/**
 * Speed and memory of our stack, each against a baseline measured in this same process, printed as
 * ratios (never pass/fail thresholds: these machines are noisy). Run with `npm run bench`
 * (node --expose-gc, for the heap numbers).
 *   (a) frame throughput: bare `ws` + JSON.parse vs ReconnectingSocket vs KurierJobStream (allJobs)
 *   (b) heap after 100k distinct jobs: a plain Set of the ids vs TransitionTracker (bounded?)
 *   (c) reconnect: server-side drop → subscribed again, vs a fresh bare connect + subscribe
 * The WebSocket server runs in a worker thread, so its sending does not eat the clients' CPU time.
 */
const FRAMES = 20_000;
const STATUSES = ['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'Finalized'];
const JOBS = FRAMES / STATUSES.length;
const THROUGHPUT_RUNS = 7;
const MEMORY_JOBS = 100_000;
const MEMORY_RUNS = 3;
const DROPS = 20;
const API_KEY = 'bench-key-0123456789';

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms; hrtime is one clock for every thread
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (ours: number, baseline: number) => `×${(ours / baseline).toFixed(2)}`;
/** One line of the table: what was measured, its median, the ratio to its section's baseline, a note. */
const row = (what: string, value: string, ratioText = '', note = '') =>
	console.log(`  ${what.padEnd(42)} ${value.padStart(27)}  ${ratioText.padStart(6)}  ${note}`.trimEnd());

// ---- the Kurier-like server, in a worker -----------------------------------------------------
// Plain JS (the worker is not compiled): `connected` first, `subscribed-all` on request, and on
// command it pushes N job-status-update frames to the newest connection or kills every socket.
const SERVER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { WebSocketServer } = require(workerData.wsPath);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
let newest = null;
let droppedAt = null;
wss.on('listening', () => parentPort.postMessage({ type: 'listening', port: wss.address().port }));
wss.on('connection', (socket, request) => {
	newest = request.socket;
	socket.on('error', () => {});
	socket.on('message', (data) => {
		const frame = JSON.parse(String(data));
		if (frame.type === 'ping') socket.send('{"type":"pong"}');
		if (frame.type !== 'subscribe-all') return;
		const at = now();
		socket.send('{"type":"subscribed-all"}');
		parentPort.postMessage({ type: 'subscribed', at, sinceDrop: droppedAt === null ? null : at - droppedAt });
		droppedAt = null;
	});
	socket.send(JSON.stringify({ type: 'connected', connectionId: 'bench', message: 'Connected successfully' }));
});
function frames(run, statuses, jobs) {
	const out = [];
	const stamp = new Date().toISOString();
	statuses.forEach((status, statusId) => {
		for (let j = 0; j < jobs; j++) {
			const jobId = run.toString(16).padStart(8, '0') + '-0000-4000-8000-' + j.toString(16).padStart(12, '0');
			const hash = statusId >= 3 ? '0x' + jobId.replace(/-/g, '').padEnd(64, 'a') : null;
			out.push(JSON.stringify({ type: 'job-status-update', data: {
				jobId, status, statusId, proofType: 'groth16', chainId: null, createdAt: stamp, updatedAt: stamp,
				txHash: hash, blockHash: hash, txExplorerUrl: hash && 'https://zkverify-testnet.subscan.io/extrinsic/' + hash,
				blockExplorerUrl: null, aggregationId: null, statement: null, aggregationDetails: null, errorDetails: null,
				event: status.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase() } }));
		}
	});
	return out;
}
// A WebSocket text frame as a server sends it (unmasked), so a push is one big write of ready bytes.
function encode(text) {
	const payload = Buffer.from(text);
	const n = payload.length;
	const header = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 255]) : null;
	if (!header) throw new Error('frame too large for this bench');
	return Buffer.concat([header, payload]);
}
parentPort.on('message', (command) => {
	if (command.type === 'push') {
		const bytes = Buffer.concat(frames(command.run, command.statuses, command.jobs).map(encode));
		const at = now();
		newest.write(bytes);
		parentPort.postMessage({ type: 'pushing', at });
	} else if (command.type === 'drop') {
		droppedAt = now();
		for (const socket of wss.clients) socket.terminate();
	} else if (command.type === 'close') {
		for (const socket of wss.clients) socket.terminate();
		wss.close(() => parentPort.close());
	}
});
`;

interface ServerMessage { type: string; port?: number; at?: number; sinceDrop?: number | null }

class BenchServer {
	// Plain JS, so no ts-node in the worker (execArgv would pass ours on).
	private readonly worker = new Worker(SERVER_SOURCE, { eval: true, execArgv: [], workerData: { wsPath: require.resolve('ws') } });
	port = 0;

	async start(): Promise<void> {
		this.port = (await this.next('listening')).port ?? 0;
	}

	get url(): string {
		return `ws://127.0.0.1:${this.port}/api/v1/ws?apiKey=${API_KEY}`;
	}

	/** The next message of this type from the server (attach before triggering it). */
	next(type: string): Promise<ServerMessage> {
		return new Promise((resolve, reject) => {
			const onMessage = (message: ServerMessage) => {
				if (message.type !== type) return;
				this.worker.off('message', onMessage);
				this.worker.off('error', reject);
				resolve(message);
			};
			this.worker.on('message', onMessage);
			this.worker.once('error', reject);
		});
	}

	send(command: object): void {
		this.worker.postMessage(command);
	}

	async close(): Promise<void> {
		const exited = new Promise((resolve) => this.worker.once('exit', resolve));
		this.send({ type: 'close' });
		await exited;
	}
}

// ---- (a) throughput --------------------------------------------------------------------------

/** A client under test: connects and subscribes, calls `onUpdate` for every job-status-update, closes. */
interface Client { close(): Promise<void> }
type ClientFactory = (url: string, onUpdate: () => void) => Promise<Client>;

const bareClient: ClientFactory = (url, onUpdate) =>
	new Promise((resolve, reject) => {
		const ws = new WebSocket(url);
		ws.on('error', reject);
		ws.on('message', (data: WebSocket.RawData) => {
			const frame = JSON.parse(String(data)) as { type: string };
			if (frame.type === 'job-status-update') onUpdate();
			else if (frame.type === 'connected') ws.send(JSON.stringify({ type: 'subscribe-all' }));
			else if (frame.type === 'subscribed-all') resolve({ close: () => closeBare(ws) });
		});
	});

const transportClient: ClientFactory = async (url, onUpdate) => {
	const socket = new ReconnectingSocket({ url, redact: (text) => text, isReadyFrame: (f) => (f as { type?: string }).type === 'connected' });
	socket.addListener({
		onReady: (connection) => void connection.send({ type: 'subscribe-all' }),
		onFrame: (frame) => (frame as { type?: string }).type === 'job-status-update' && onUpdate(),
	});
	await socket.start();
	return { close: () => socket.close() };
};

const streamClient = (port: number, backoff?: Partial<BackoffOptions>): ClientFactory => async (_url, onUpdate) => {
	const stream = new KurierJobStream({
		// allJobs mode only uses REST after a reconnect, for jobs seen but not final.
		client: new KurierApiClient({ restBaseUrl: `http://127.0.0.1:${port}/api/v1`, apiKey: API_KEY }),
		target: { kind: 'allJobs' },
		keepAlive: { intervalMs: 60_000, timeoutMs: 10_000 },
		backoff,
		onItem: onUpdate,
		onFatal: (error) => console.error(`stream failed: ${error.message}`),
	});
	await stream.start();
	return { close: () => stream.close() };
};

function closeBare(ws: WebSocket): Promise<void> {
	return new Promise((resolve) => {
		if (ws.readyState === WebSocket.CLOSED) return resolve();
		ws.once('close', () => resolve());
		ws.close();
	});
}

let pushRun = 0;
/**
 * Frames/s for one client, from the server's write to the client's last update. The server writes
 * all frames, pre-encoded, in one go, so the client (on its own thread) is what limits the rate.
 */
async function throughputRun(server: BenchServer, factory: ClientFactory): Promise<number> {
	let count = 0;
	let lastAt = 0;
	let finish: () => void = () => undefined;
	const finished = new Promise<void>((resolve) => (finish = resolve));
	const client = await factory(server.url, () => {
		count += 1;
		if (count === FRAMES) {
			lastAt = now();
			finish();
		}
	});
	const pushing = server.next('pushing');
	server.send({ type: 'push', run: ++pushRun, statuses: STATUSES, jobs: JOBS });
	const { at: firstSendAt = 0 } = await pushing;
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${count} of ${FRAMES} frames arrived`)), 30_000)));
	try {
		await Promise.race([finished, timeout]);
		return FRAMES / ((lastAt - firstSendAt) / 1000);
	} finally {
		clearTimeout(timer);
		await client.close();
	}
}

// ---- (b) memory ------------------------------------------------------------------------------

const gc = global.gc;
const jobId = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

/** Heap retained by what `build` returns (kept alive until measured). */
function retainedHeap<T>(build: () => T): { bytes: number; value: T } {
	gc?.();
	gc?.();
	const before = process.memoryUsage().heapUsed;
	const value = build();
	gc?.();
	gc?.();
	return { bytes: process.memoryUsage().heapUsed - before, value };
}

/** 100k jobs through a tracker, each Queued → … → Finalized, `msPerJob` apart on the tracker's clock. */
function trackJobs(msPerJob: number, final: boolean): { tracker: TransitionTracker; advance(ms: number): void } {
	let clock = 0;
	const tracker = new TransitionTracker({ now: () => clock });
	for (let i = 0; i < MEMORY_JOBS; i++) {
		const id = jobId(i);
		for (const status of STATUSES) {
			tracker.accept({ id, transitionKey: status, rank: kurierStatusRank(status), isFinal: final && status === 'Finalized' });
		}
		clock += msPerJob;
	}
	return { tracker, advance: (ms) => (clock += ms) };
}

// ---- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
	const started = now();
	console.log(`Bench on Node ${process.version}, ${cpus().length} CPUs${gc ? '' : ' (no --expose-gc: heap numbers are rough)'}; ratio = ours / baseline\n`);
	const server = new BenchServer();
	await server.start();
	try {
		// (a) Variants interleaved in every round, so drift hits them alike; the first round warms up.
		const variants: Array<[string, ClientFactory]> = [
			['bare ws + JSON.parse (baseline)', bareClient],
			['ReconnectingSocket (our transport only)', transportClient],
			['KurierJobStream, allJobs (ours)', streamClient(server.port)],
		];
		const rates = variants.map(() => [] as number[]);
		for (let round = 0; round <= THROUGHPUT_RUNS; round++) {
			for (let k = 0; k < variants.length; k++) {
				const index = (k + round) % variants.length; // rotate the order, so no variant always follows the same one
				const rate = await throughputRun(server, variants[index][1]);
				if (round > 0) rates[index].push(rate);
			}
		}
		row('', 'median', 'ratio');
		console.log(`(a) throughput, ${fmt(FRAMES)} job-status-update frames (${fmt(JOBS)} jobs × ${STATUSES.length} statuses), ${THROUGHPUT_RUNS} runs; higher is better`);
		const baseRate = median(rates[0]);
		variants.forEach(([name], index) => {
			const rate = median(rates[index]);
			row(name, `${fmt(rate)} frames/s (${fmt(1e6 / rate, 1)} µs)`, index ? ratio(rate, baseRate) : '');
		});

		// (b) 10 finished jobs per second: the 10-minute grace keeps ~6000 of them; jobs never final hit maxIds.
		const sets: number[] = [];
		const graced: number[] = [];
		const capped: number[] = [];
		let gracedSize = 0;
		let afterGrace = 0;
		let cappedSize = 0;
		for (let run = 0; run < MEMORY_RUNS; run++) {
			sets.push(retainedHeap(() => new Set(Array.from({ length: MEMORY_JOBS }, (_, i) => jobId(i)))).bytes);
			const finished = retainedHeap(() => trackJobs(100, true));
			graced.push(finished.bytes);
			gracedSize = finished.value.tracker.size;
			finished.value.advance(10 * 60_000 + 1);
			finished.value.tracker.unfinishedIds(); // expiry is checked whenever the tracker is used
			afterGrace = finished.value.tracker.size;
			const unfinished = retainedHeap(() => trackJobs(100, false));
			capped.push(unfinished.bytes);
			cappedSize = unfinished.value.tracker.size;
		}
		const heap = (bytes: number, ids: number) => `${fmt(bytes / 1024 / 1024, 1)} MB, ${fmt(ids)} ids kept`;
		const baseHeap = median(sets);
		console.log(`(b) heap retained after ${fmt(MEMORY_JOBS)} distinct jobs, ${MEMORY_RUNS} runs; lower is better`);
		row('Set of the job ids (baseline)', heap(baseHeap, MEMORY_JOBS));
		row('TransitionTracker, every job final', heap(median(graced), gracedSize), ratio(median(graced), baseHeap), `10-min grace at 10 jobs/s; ${afterGrace} kept after it`);
		row('TransitionTracker, no job final', heap(median(capped), cappedSize), ratio(median(capped), baseHeap), 'bounded by maxIds');

		// (c) Backoff of ~1 ms and reset after every connection, so what is measured is our own overhead.
		const connects: number[] = [];
		for (let i = 0; i < DROPS; i++) {
			const subscribed = server.next('subscribed');
			const startedAt = now();
			const client = await bareClient(server.url, () => undefined);
			connects.push(((await subscribed).at ?? 0) - startedAt);
			await client.close();
		}
		const reconnects: number[] = [];
		const stream = await streamClient(server.port, { initialMs: 1, maxMs: 1, factor: 1, stableAfterMs: 0 })(server.url, () => undefined);
		for (let i = 0; i < DROPS; i++) {
			// Let the confirmation of the previous subscribe arrive first: a drop while the stream still waits
			// for it is a different path (one that leaves that connection's onReady pending for good).
			await sleep(20);
			const subscribed = server.next('subscribed');
			server.send({ type: 'drop' });
			reconnects.push((await subscribed).sinceDrop ?? Number.NaN);
		}
		await stream.close();
		const baseConnect = median(connects);
		console.log(`(c) reconnect, ${DROPS} times; lower is better`);
		row('fresh bare ws connect + subscribe (baseline)', `${fmt(baseConnect, 2)} ms`);
		row('KurierJobStream: drop → subscribed again', `${fmt(median(reconnects), 2)} ms`, ratio(median(reconnects), baseConnect), 'backoff set to 1 ms');
	} finally {
		await server.close();
	}
	console.log(`done in ${fmt((now() - started) / 1000, 1)} s`);
}

// Should something hang (a frame that never arrives), fail loudly instead of waiting forever; unref'd,
// so on the normal path it does not keep the process alive.
setTimeout(() => {
	console.error('bench: still running after 120 s, giving up');
	process.exit(1);
}, 120_000).unref();

main().catch((error: unknown) => {
	console.error(error);
	process.exitCode = 1;
});
