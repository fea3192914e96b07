import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';

import { LoggedProcess, freePort, isListening, waitUntil } from './processes';

/**
 * What n8n's queue mode needs, from Debian's packages, each in its own folder and on its own port on
 * 127.0.0.1: Redis (the Bull queue) and PostgreSQL (the shared database of main and workers).
 */

export interface RedisServer {
	port: number;
	process: LoggedProcess;
}

export async function startRedis(dir: string): Promise<RedisServer> {
	mkdirSync(dir, { recursive: true });
	const port = await freePort();
	const process = LoggedProcess.spawn('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], join(dir, 'redis.log'));
	await waitUntil('redis-server to answer PING', async () => (await redisPing(port)) === '+PONG', 15_000, { abort: () => (process.isRunning ? undefined : `redis-server exited; see ${process.logFile}`) });
	return { port, process };
}

async function redisPing(port: number): Promise<string> {
	return await new Promise((resolve, reject) => {
		const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
		socket.setEncoding('utf8');
		socket.once('data', (data: string) => {
			socket.destroy();
			resolve(data.trim());
		});
		socket.once('error', reject);
	});
}

export interface PostgresServer {
	port: number;
	user: string;
	database: string;
	password: string;
	process: LoggedProcess;
}

const POSTGRES_OS_USER = 'postgres';

/** A throwaway cluster (trust auth on loopback) with one database for n8n. */
export async function startPostgres(dir: string): Promise<PostgresServer> {
	const bin = postgresBinDir();
	const dataDir = join(dir, 'data');
	mkdirSync(dir, { recursive: true });
	// PostgreSQL refuses to run as root: as root, the cluster belongs to Debian's postgres user.
	const asRoot = process.getuid?.() === 0;
	const runAs = (command: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', POSTGRES_OS_USER, '--', command, ...args]] : [command, args]);
	if (asRoot) {
		const { uid, gid } = osUser(POSTGRES_OS_USER);
		chownSync(dir, uid, gid);
		chmodSync(dir, 0o700);
	}
	const user = 'n8n';
	const database = 'n8n';
	const password = 'n8n-e2e';
	execFileSync(...runAs(join(bin, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', user, '--no-sync']), { stdio: 'pipe' });
	const port = await freePort();
	const [command, args] = runAs(join(bin, 'postgres'), ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200']);
	const server = LoggedProcess.spawn('postgres', command, args, join(dir, '..', `postgres-${port}.log`));
	await waitUntil('postgres to listen', async () => await isListening(port), 30_000, { abort: () => (server.isRunning ? undefined : `postgres exited; see ${server.logFile}`) });
	await waitUntil('postgres to accept queries', () => {
		execFileSync(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'postgres', '-c', 'select 1'], { stdio: 'pipe' });
		return true;
	}, 30_000);
	execFileSync(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'postgres', '-c', `create database ${database}`], { stdio: 'pipe' });
	return { port, user, database, password, process: server };
}

/** One SQL statement in n8n's database; the rows as psql prints them unaligned, without headers. */
export function postgresQuery(server: PostgresServer, sql: string): string {
	return execFileSync(join(postgresBinDir(), 'psql'), ['-h', '127.0.0.1', '-p', String(server.port), '-U', server.user, '-d', server.database, '-At', '-c', sql], { encoding: 'utf8' }).trim();
}

function postgresBinDir(): string {
	const root = '/usr/lib/postgresql';
	const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
	if (versions.length === 0) throw new Error('PostgreSQL is not installed (apt-get install postgresql; test/e2e/install.sh does it)');
	return join(root, versions[0], 'bin');
}

function osUser(name: string): { uid: number; gid: number } {
	const [uid, gid] = execFileSync('id', ['-u', name]).toString().trim().concat(' ', execFileSync('id', ['-g', name]).toString().trim()).split(' ').map(Number);
	return { uid, gid };
}
