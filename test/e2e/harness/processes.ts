import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve());
	});
	const address = server.address();
	await new Promise((resolve) => server.close(resolve));
	if (address === null || typeof address === 'string') throw new Error('no TCP address');
	return address.port;
}

/** A child process whose stdout and stderr go to one log file; `stop` ends it and its children. */
export class LoggedProcess {
	readonly exited: Promise<number | null>;
	private exitCode: number | null | undefined;
	/** How it ended, once it has. */
	exitDescription = '';

	private constructor(
		readonly name: string,
		readonly child: ChildProcess,
		readonly logFile: string,
	) {
		this.exited = new Promise((resolve) => {
			child.once('error', (error) => {
				this.exitDescription = `could not start: ${error.message}`;
				resolve((this.exitCode = -1));
			});
			child.once('exit', (code, signal) => {
				this.exitDescription = signal ? `killed by ${signal}` : `exit code ${code}`;
				resolve((this.exitCode = code ?? -1));
			});
		});
	}

	static spawn(name: string, command: string, args: string[], logFile: string, options: SpawnOptions = {}): LoggedProcess {
		const log = createWriteStream(logFile, { flags: 'a' });
		// detached: its own process group, so `stop` also reaches what it starts (n8n's task runners).
		const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
		child.stdout?.pipe(log);
		child.stderr?.pipe(log);
		return new LoggedProcess(name, child, logFile);
	}

	get isRunning(): boolean {
		return this.exitCode === undefined;
	}

	log(): string {
		try {
			return readFileSync(this.logFile, 'utf8');
		} catch {
			return '';
		}
	}

	/** SIGKILL to the whole process group at once, as the kernel's OOM killer or `docker kill` ends it; resolves once it is gone. */
	async kill(): Promise<void> {
		if (!this.isRunning || this.child.pid === undefined) return;
		signalGroup(this.child.pid, 'SIGKILL');
		await this.exited;
	}

	/** SIGTERM to the process group, SIGKILL after `graceMs`. */
	async stop(graceMs = 15_000): Promise<void> {
		if (!this.isRunning || this.child.pid === undefined) return;
		const pid = this.child.pid;
		signalGroup(pid, 'SIGTERM');
		const killer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
		await this.exited;
		clearTimeout(killer);
		// Whatever the process left behind in its group goes too.
		signalGroup(pid, 'SIGKILL');
	}
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-pid, signal);
	} catch {
		// Already gone.
	}
}

/** Polls until `check` resolves true; rejects with `what` after `timeoutMs`, or at once when `abort()` says why. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, options: { everyMs?: number; abort?: () => string | undefined } = {}): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const reason = options.abort?.();
		if (reason) throw new Error(`${what}: ${reason}`);
		try {
			if (await check()) return;
		} catch {
			// Not yet (connection refused and the like).
		}
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 250));
	}
}

/** True once something accepts TCP connections on 127.0.0.1:port. */
export async function isListening(port: number): Promise<boolean> {
	return await new Promise((resolve) => {
		const socket = connect(port, '127.0.0.1');
		socket.once('connect', () => {
			socket.destroy();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});
}
