/** A logger that keeps every line, so tests can assert what was (and was not) logged. */
export class CapturingLogger {
	readonly lines: Array<{ level: string; message: string; meta?: unknown }> = [];

	private add(level: string, message: string, meta?: unknown) {
		this.lines.push({ level, message, meta });
	}

	error = (message: string, meta?: unknown) => this.add('error', message, meta);
	warn = (message: string, meta?: unknown) => this.add('warn', message, meta);
	info = (message: string, meta?: unknown) => this.add('info', message, meta);
	debug = (message: string, meta?: unknown) => this.add('debug', message, meta);

	clear(): void {
		this.lines.length = 0;
	}

	scoped() {
		return this;
	}

	text(): string {
		return this.lines.map((l) => `${l.level}: ${l.message} ${l.meta === undefined ? '' : JSON.stringify(l.meta)}`).join('\n');
	}

	messages(level?: string): string[] {
		return this.lines.filter((l) => level === undefined || l.level === level).map((l) => l.message);
	}
}
