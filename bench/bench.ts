import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';

import { KurierApiClient } from '../nodes/Kurier/KurierApiClient';
import { KurierJobStream } from '../nodes/Kurier/KurierJobStream';
import { kurierStatusRank } from '../nodes/Kurier/protocol';
import { TachyonApiClient } from '../nodes/Tachyon/TachyonApiClient';
import { TachyonStream } from '../nodes/Tachyon/TachyonStream';
import { ReconnectingSocket } from '../nodes/shared/ReconnectingSocket';
import type { BackoffOptions } from '../nodes/shared/ReconnectingSocket';
import { TransitionTracker } from '../nodes/shared/TransitionTracker';

/**
 * Speed and memory of our stack, each against a baseline measured in this same process and run,
 * printed as ratios next to the issue's targets (never pass/fail: these machines are noisy). Run
 * with `npm run bench` (node --expose-gc, for the heap numbers); a few tens of seconds.
 *   (a) frame → item throughput: bare `ws` + JSON.parse vs ReconnectingSocket vs KurierJobStream
 *       (allJobs), and bare vs TachyonStream; target: the stream at ≥ ×0.50 of the bare client
 *   (b) per-event added latency, one event at a time: frame arrival in the client → onItem, vs the
 *       bare client's arrival → parsed; p50/p99; target: p99 < 1 ms
 *   (c) heap of one allJobs KurierJobStream tracking 10,000 unfinished jobs; target < 50 MB
 *   (d) heap after 100k distinct jobs: a plain Set of the ids vs TransitionTracker (bounded?)
 *   (e) reconnect: server-side drop → subscribed again, vs a fresh bare connect + subscribe
 * The WebSocket server runs in a worker thread, so its sending does not eat the clients' CPU time.
 * Allfeat ATS has no throughput row: its trigger follows one transaction (a handful of frames) per
 * socket; its frames go through the same parseTypedFrame / zod 4 path.
 */
const FRAMES = 20_000;
const KURIER_STATUSES = ['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'Finalized'];
// Status and retry count: the transition key of a Tachyon transaction (a status can come back).
const TACHYON_STATES = ['NOT_PICKED_UP#0', 'PENDING#0', 'NEEDS_TO_BE_RETRIED#0', 'PENDING#1', 'EXECUTED#1'];
const JOBS = FRAMES / KURIER_STATUSES.length;
const THROUGHPUT_RUNS = 7;
const LATENCY_EVENTS = 1_000;
const LATENCY_WARMUP = 200;
const HEAP_JOBS = 10_000;
const MEMORY_JOBS = 100_000;
const MEMORY_RUNS = 3;
const DROPS = 20;
const API_KEY = 'bench-key-0123456789';
const TARGET_RATIO = 0.5;
const TARGET_P99_MS = 1;
const TARGET_HEAP_MB = 50;

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms; hrtime is one clock for every thread
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** `promise`, or a rejection after `ms`; the timer is cleared either way (a pending one would keep the process up). */
async function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	try {
		return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what())), ms)))]);
	} finally {
		clearTimeout(timer);
	}
}
const fmt = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (ours: number, baseline: number) => `×${(ours / baseline).toFixed(2)}`;
/** One line of the table: what was measured, its median, the ratio to its section's baseline, a note. */
const row = (what: string, value: string, ratioText = '', note = '') =>
	console.log(`  ${what.padEnd(44)} ${value.padStart(30)}  ${ratioText.padStart(6)}  ${note}`.trimEnd());
const section = (title: string) => console.log(`\n${title}`);

// ---- the Kurier- and Tachyon-like server, in a worker ----------------------------------------
// Plain JS (the worker is not compiled). Kurier (/api/v1/ws): `connected` first, `subscribed-all` on
// request. Tachyon (/ws): a `{message}` greeting, and an echo of what the client sends. On command it
// pushes N update frames of either service to the newest connection (all at once, or one), or kills
// every socket. `sentAt` (shared memory) holds the hrtime of the last single frame's write.
const SERVER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { WebSocketServer } = require(workerData.wsPath);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sentAt = new Float64Array(workerData.sentAt);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
let newest = null;
let droppedAt = null;
wss.on('listening', () => parentPort.postMessage({ type: 'listening', port: wss.address().port }));
wss.on('connection', (socket, request) => {
	newest = request.socket;
	socket.on('error', () => {});
	const tachyon = request.url.startsWith('/ws');
	socket.on('message', (data) => {
		const frame = JSON.parse(String(data));
		if (tachyon) return socket.send(JSON.stringify({ echo: frame }));
		if (frame.type === 'ping') socket.send('{"type":"pong"}');
		if (frame.type !== 'subscribe-all') return;
		const at = now();
		socket.send('{"type":"subscribed-all"}');
		parentPort.postMessage({ type: 'subscribed', at, sinceDrop: droppedAt === null ? null : at - droppedAt });
		droppedAt = null;
	});
	socket.send(tachyon ? JSON.stringify({ message: 'WebSocket connected!' }) : JSON.stringify({ type: 'connected', connectionId: 'bench', message: 'Connected successfully' }));
});
const stamp = new Date().toISOString();
function id(run, j) {
	return run.toString(16).padStart(8, '0') + '-0000-4000-8000-' + j.toString(16).padStart(12, '0');
}
function kurierFrame(run, j, status, statusId) {
	const jobId = id(run, j);
	const hash = statusId >= 3 ? '0x' + jobId.replace(/-/g, '').padEnd(64, 'a') : null;
	return JSON.stringify({ type: 'job-status-update', data: {
		jobId, status, statusId, proofType: 'groth16', chainId: null, createdAt: stamp, updatedAt: stamp,
		txHash: hash, blockHash: hash, txExplorerUrl: hash && 'https://zkverify-testnet.subscan.io/extrinsic/' + hash,
		blockExplorerUrl: null, aggregationId: null, statement: null, aggregationDetails: null, errorDetails: null,
		event: status.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase() } });
}
function tachyonFrame(run, j, state) {
	const [status, retries] = state.split('#');
	const txId = id(run, j);
	const hash = status === 'EXECUTED' ? '0x' + txId.replace(/-/g, '').padEnd(64, 'b') : null;
	return JSON.stringify({ type: 'notification', data: {
		txId, status, chainId: 8453, retries: Number(retries), txHash: hash, costUSD: 0.0123,
		submittedAt: stamp, updatedAt: stamp } });
}
function frames(command) {
	const out = [];
	command.statuses.forEach((status, statusId) => {
		for (let j = 0; j < command.jobs; j++) out.push(command.service === 'tachyon' ? tachyonFrame(command.run, j, status) : kurierFrame(command.run, j, status, statusId));
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
		const bytes = Buffer.concat(frames(command).map(encode));
		const at = now();
		newest.write(bytes);
		parentPort.postMessage({ type: 'pushing', at });
	} else if (command.type === 'one') {
		const bytes = encode(command.service === 'tachyon' ? tachyonFrame(command.run, command.index, 'PENDING#0') : kurierFrame(command.run, command.index, 'Queued', 0));
		sentAt[0] = now();
		newest.write(bytes);
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
type Service = 'kurier' | 'tachyon';

class BenchServer {
	private readonly sentAtBuffer = new SharedArrayBuffer(8);
	/** When the worker wrote the last single frame (hrtime ms). */
	readonly sentAt = new Float64Array(this.sentAtBuffer);
	// Plain JS, so no ts-node in the worker (execArgv would pass ours on).
	private readonly worker = new Worker(SERVER_SOURCE, { eval: true, execArgv: [], workerData: { wsPath: require.resolve('ws'), sentAt: this.sentAtBuffer } });
	port = 0;
	private waiters: Array<{ type: string; since: number; resolve(message: ServerMessage): void }> = [];

	constructor() {
		// One listener for good: a port without listeners would hold messages and hand stale ones to the next.
		this.worker.on('message', (message: ServerMessage) => {
			const waiter = this.waiters.find((w) => w.type === message.type && (message.at === undefined || message.at >= w.since));
			if (waiter === undefined) return;
			this.waiters = this.waiters.filter((w) => w !== waiter);
			waiter.resolve(message);
		});
		this.worker.on('error', (error) => {
			console.error(error);
			process.exit(1);
		});
	}

	async start(): Promise<void> {
		this.port = (await this.next('listening')).port ?? 0;
	}

	url(service: Service): string {
		return service === 'tachyon' ? `ws://127.0.0.1:${this.port}/ws` : `ws://127.0.0.1:${this.port}/api/v1/ws?apiKey=${API_KEY}`;
	}

	/** The next message of this type from the server, sent after this call (make it before triggering it). */
	next(type: string): Promise<ServerMessage> {
		const since = now();
		return new Promise((resolve) => this.waiters.push({ type, since, resolve }));
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

// ---- the clients under test ------------------------------------------------------------------

/** A client under test: connects and subscribes, calls `onUpdate` for every update frame/item, closes. */
interface Client { close(): Promise<void> }
type ClientFactory = (server: BenchServer, onUpdate: () => void) => Promise<Client>;

/** The baseline: `ws` and JSON.parse, nothing else (it still answers the handshake). */
const bareClient = (service: Service): ClientFactory => (server, onUpdate) =>
	new Promise((resolve, reject) => {
		const ws = new WebSocket(server.url(service), { perMessageDeflate: false });
		const updateType = service === 'tachyon' ? 'notification' : 'job-status-update';
		ws.on('error', reject);
		ws.on('message', (data: WebSocket.RawData) => {
			const frame = JSON.parse(String(data)) as { type?: string; message?: string };
			if (frame.type === updateType) onUpdate();
			else if (frame.type === 'connected') ws.send(JSON.stringify({ type: 'subscribe-all' }));
			else if (frame.type === 'subscribed-all' || (service === 'tachyon' && frame.message)) resolve({ close: () => closeBare(ws) });
		});
	});

const transportClient: ClientFactory = async (server, onUpdate) => {
	const socket = new ReconnectingSocket({ url: server.url('kurier'), redact: (text) => text, isReadyFrame: (f) => (f as { type?: string }).type === 'connected' });
	socket.addListener({
		onReady: (connection) => void connection.send({ type: 'subscribe-all' }),
		onFrame: (frame) => (frame as { type?: string }).type === 'job-status-update' && onUpdate(),
	});
	await socket.start();
	return { close: () => socket.close() };
};

const kurierStreamClient = (backoff?: Partial<BackoffOptions>) => (server: BenchServer, onUpdate: () => void): Promise<Client> =>
	startKurierStream(server, onUpdate, backoff);

async function startKurierStream(server: BenchServer, onUpdate: () => void, backoff?: Partial<BackoffOptions>): Promise<KurierJobStream & Client> {
	const stream = new KurierJobStream({
		// allJobs mode only uses REST after a reconnect, for jobs seen but not final.
		client: new KurierApiClient({ restBaseUrl: `http://127.0.0.1:${server.port}/api/v1`, apiKey: API_KEY }),
		target: { kind: 'allJobs' },
		keepAlive: { intervalMs: 60_000, timeoutMs: 10_000 },
		sweepIntervalMs: 0,
		backoff,
		onItem: onUpdate,
		onFatal: (error) => console.error(`stream failed: ${error.message}`),
	});
	await stream.start();
	return stream;
}

const tachyonStreamClient: ClientFactory = async (server, onUpdate) => {
	const stream = new TachyonStream({
		client: new TachyonApiClient({ baseUrl: `http://127.0.0.1:${server.port}`, apiKey: API_KEY, dashboardJwt: null, webSocket: { url: server.url('tachyon'), key: 'bench-ws-key' } }),
		keepAlive: { intervalMs: 60_000, timeoutMs: 10_000 },
		sweepIntervalMs: 0,
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

// ---- (a) throughput --------------------------------------------------------------------------

let pushRun = 0;
/**
 * Frames/s for one client, from the server's write to the client's last update. The server writes
 * all frames, pre-encoded, in one go, so the client (on its own thread) is what limits the rate.
 */
async function throughputRun(server: BenchServer, service: Service, factory: ClientFactory): Promise<number> {
	let count = 0;
	let lastAt = 0;
	let finish: () => void = () => undefined;
	const finished = new Promise<void>((resolve) => (finish = resolve));
	const client = await factory(server, () => {
		count += 1;
		if (count === FRAMES) {
			lastAt = now();
			finish();
		}
	});
	const pushing = server.next('pushing');
	server.send({ type: 'push', service, run: ++pushRun, statuses: service === 'tachyon' ? TACHYON_STATES : KURIER_STATUSES, jobs: JOBS });
	const { at: firstSendAt = 0 } = await pushing;
	try {
		await within(finished, 30_000, () => `only ${count} of ${FRAMES} frames arrived`);
		return FRAMES / ((lastAt - firstSendAt) / 1000);
	} finally {
		await client.close();
	}
}

// ---- (b) latency -----------------------------------------------------------------------------

// When `ws` handed the current frame to the client: stamped by a wrapper around WebSocket#emit, the
// same for every client of this process, just before the client's own 'message' handler runs. Only
// installed for this section, so it costs the throughput runs nothing.
let arrivedAt = 0;
const originalEmit = WebSocket.prototype.emit;
function stampArrivals(on: boolean): void {
	WebSocket.prototype.emit = on
		? function emit(this: WebSocket, event: string | symbol, ...args: unknown[]): boolean {
				if (event === 'message') arrivedAt = now();
				return originalEmit.call(this, event, ...args);
			}
		: originalEmit;
}

interface LatencySample { added: number; endToEnd: number }

/**
 * One frame at a time (the next only after the previous item, and a short pause): for each, the
 * time from its arrival in the client to the client's callback, and from the server's write.
 */
async function latencyRun(server: BenchServer, service: Service, factory: ClientFactory, events: number): Promise<LatencySample[]> {
	const samples: LatencySample[] = [];
	let done: () => void = () => undefined;
	const client = await factory(server, () => {
		const at = now();
		samples.push({ added: at - arrivedAt, endToEnd: at - server.sentAt[0] });
		done();
	});
	const run = ++pushRun;
	try {
		for (let index = 0; index < events; index++) {
			const arrived = new Promise<void>((resolve) => (done = resolve));
			server.send({ type: 'one', service, run, index });
			await within(arrived, 5_000, () => `event ${index} never arrived`);
			await sleep(1);
		}
	} finally {
		await client.close();
	}
	return samples;
}

// ---- (c) heap of one allJobs stream ----------------------------------------------------------

const gc = global.gc;

function heapUsed(): number {
	gc?.();
	gc?.();
	return process.memoryUsage().heapUsed;
}

/** Heap held by one allJobs KurierJobStream once it tracks HEAP_JOBS unfinished jobs (4 statuses each). */
async function streamHeap(server: BenchServer): Promise<{ bytes: number; items: number }> {
	let items = 0;
	let finish: () => void = () => undefined;
	const finished = new Promise<void>((resolve) => (finish = resolve));
	const expected = HEAP_JOBS * 4;
	const stream = await startKurierStream(server, () => {
		items += 1;
		if (items === expected) finish();
	});
	try {
		await sleep(50);
		const before = heapUsed();
		// Queued … IncludedInBlock: none of the jobs is final, so the stream keeps every one.
		server.send({ type: 'push', service: 'kurier', run: ++pushRun, statuses: KURIER_STATUSES.slice(0, 4), jobs: HEAP_JOBS });
		await within(finished, 60_000, () => `only ${items} of ${expected} items`);
		await sleep(50);
		return { bytes: heapUsed() - before, items };
	} finally {
		await stream.close();
	}
}

// ---- (d) tracker memory ----------------------------------------------------------------------

const jobId = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

/** Heap retained by what `build` returns (kept alive until measured). */
function retainedHeap<T>(build: () => T): { bytes: number; value: T } {
	const before = heapUsed();
	const value = build();
	return { bytes: heapUsed() - before, value };
}

/** 100k jobs through a tracker, each Queued → … → Finalized, `msPerJob` apart on the tracker's clock. */
function trackJobs(msPerJob: number, final: boolean): { tracker: TransitionTracker; advance(ms: number): void } {
	let clock = 0;
	const tracker = new TransitionTracker({ now: () => clock });
	for (let i = 0; i < MEMORY_JOBS; i++) {
		const id = jobId(i);
		for (const status of KURIER_STATUSES) {
			tracker.accept({ id, transitionKey: status, rank: kurierStatusRank(status), isFinal: final && status === 'Finalized' });
		}
		clock += msPerJob;
	}
	return { tracker, advance: (ms) => (clock += ms) };
}

// ---- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
	const started = now();
	console.log(`Bench on Node ${process.version}, ${cpus().length} CPUs${gc ? '' : ' (no --expose-gc: heap numbers are rough)'}; ratio = ours / baseline of the same run`);
	const server = new BenchServer();
	await server.start();
	try {
		// (a) Variants interleaved in every round, so drift hits them alike; the first round warms up.
		const variants: Array<[string, Service, ClientFactory]> = [
			['bare ws + JSON.parse, Kurier frames (baseline)', 'kurier', bareClient('kurier')],
			['ReconnectingSocket (transport only)', 'kurier', transportClient],
			['KurierJobStream, allJobs: frame → item', 'kurier', kurierStreamClient()],
			['bare ws + JSON.parse, Tachyon frames (baseline)', 'tachyon', bareClient('tachyon')],
			['TachyonStream: frame → item', 'tachyon', tachyonStreamClient],
		];
		const rates = variants.map(() => [] as number[]);
		for (let round = 0; round <= THROUGHPUT_RUNS; round++) {
			for (let k = 0; k < variants.length; k++) {
				const index = (k + round) % variants.length; // rotate the order, so no variant always follows the same one
				const rate = await throughputRun(server, variants[index][1], variants[index][2]);
				if (round > 0) rates[index].push(rate);
			}
		}
		section(`(a) throughput, ${fmt(FRAMES)} update frames per run (${fmt(JOBS)} ids × 5 transitions), ${THROUGHPUT_RUNS} runs; higher is better`);
		row('', 'median', 'ratio', 'target');
		variants.forEach(([name, service], index) => {
			const rate = median(rates[index]);
			const baseIndex = service === 'tachyon' ? 3 : 0;
			const base = median(rates[baseIndex]);
			const isStream = name.includes('Stream');
			row(name, `${fmt(rate)} frames/s (${fmt(1e6 / rate, 1)} µs)`, index === baseIndex ? '' : ratio(rate, base), isStream ? `≥ ×${TARGET_RATIO.toFixed(2)}` : '');
		});

		// (b) Interleaved blocks, bare first, so both see the same machine.
		const bare: LatencySample[] = [];
		const stream: LatencySample[] = [];
		stampArrivals(true);
		await latencyRun(server, 'kurier', bareClient('kurier'), LATENCY_WARMUP);
		await latencyRun(server, 'kurier', kurierStreamClient(), LATENCY_WARMUP);
		for (let block = 0; block < 4; block++) {
			bare.push(...(await latencyRun(server, 'kurier', bareClient('kurier'), LATENCY_EVENTS / 4)));
			stream.push(...(await latencyRun(server, 'kurier', kurierStreamClient(), LATENCY_EVENTS / 4)));
		}
		stampArrivals(false);
		const ms = (values: number[]) => `p50 ${fmt(percentile(values, 50), 3)} / p99 ${fmt(percentile(values, 99), 3)} ms`;
		section(`(b) latency, ${fmt(LATENCY_EVENTS)} Kurier events one at a time (1 ms apart); lower is better`);
		row('bare: arrival → parsed (baseline)', ms(bare.map((s) => s.added)));
		row('KurierJobStream: arrival → onItem (added)', ms(stream.map((s) => s.added)), '', `p99 < ${TARGET_P99_MS} ms`);
		row('bare: server write → parsed', ms(bare.map((s) => s.endToEnd)));
		row('KurierJobStream: server write → onItem', ms(stream.map((s) => s.endToEnd)));

		// (c) One stream, 10,000 jobs that never finish.
		const heaps: number[] = [];
		let heapItems = 0;
		for (let run = 0; run < 2; run++) {
			const measured = await streamHeap(server);
			heaps.push(measured.bytes);
			heapItems = measured.items;
		}
		section(`(c) heap of one allJobs KurierJobStream after ${fmt(heapItems)} items (${fmt(HEAP_JOBS)} jobs, none final), after gc, minus the heap before; lower is better`);
		row(`KurierJobStream tracking ${fmt(HEAP_JOBS)} jobs`, `${fmt(Math.min(...heaps) / 1024 / 1024, 1)} MB`, '', `< ${TARGET_HEAP_MB} MB`);

		// (d) 10 finished jobs per second: the 10-minute grace keeps ~6000 of them; jobs never final hit maxIds.
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
		section(`(d) heap retained after ${fmt(MEMORY_JOBS)} distinct jobs, ${MEMORY_RUNS} runs; lower is better`);
		row('Set of the job ids (baseline)', heap(baseHeap, MEMORY_JOBS));
		row('TransitionTracker, every job final', heap(median(graced), gracedSize), ratio(median(graced), baseHeap), `10-min grace at 10 jobs/s; ${afterGrace} kept after it`);
		row('TransitionTracker, no job final', heap(median(capped), cappedSize), ratio(median(capped), baseHeap), 'bounded by maxIds');

		// (e) Backoff of ~1 ms and reset after every connection, so what is measured is our own overhead.
		const connects: number[] = [];
		for (let i = 0; i < DROPS; i++) {
			const subscribed = server.next('subscribed');
			const startedAt = now();
			const client = await bareClient('kurier')(server, () => undefined);
			connects.push(((await subscribed).at ?? 0) - startedAt);
			await client.close();
		}
		const reconnects: number[] = [];
		const reconnecting = await kurierStreamClient({ initialMs: 1, maxMs: 1, factor: 1, stableAfterMs: 0 })(server, () => undefined);
		for (let i = 0; i < DROPS; i++) {
			// Let the confirmation of the previous subscribe arrive first: a drop while the stream still waits
			// for it is a different path (one that leaves that connection's onReady pending for good).
			await sleep(20);
			const subscribed = server.next('subscribed');
			server.send({ type: 'drop' });
			reconnects.push((await subscribed).sinceDrop ?? Number.NaN);
		}
		await reconnecting.close();
		const baseConnect = median(connects);
		section(`(e) reconnect, ${DROPS} times; lower is better`);
		row('fresh bare ws connect + subscribe (baseline)', `${fmt(baseConnect, 2)} ms`);
		row('KurierJobStream: drop → subscribed again', `${fmt(median(reconnects), 2)} ms`, ratio(median(reconnects), baseConnect), 'backoff set to 1 ms');
	} finally {
		await server.close();
	}
	console.log(`\ndone in ${fmt((now() - started) / 1000, 1)} s`);
}

// Should something hang (a frame that never arrives), fail loudly instead of waiting forever; unref'd,
// so on the normal path it does not keep the process alive.
setTimeout(() => {
	console.error('bench: still running after 180 s, giving up');
	process.exit(1);
}, 180_000).unref();

main().catch((error: unknown) => {
	console.error(error);
	process.exitCode = 1;
});
