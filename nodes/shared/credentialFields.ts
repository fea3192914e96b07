import type { INodeProperties } from 'n8n-workflow';

/** A credential that cannot work whatever the service says (no key, a base URL that is not one). */
export class CredentialError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'CredentialError';
	}
}

/**
 * A credential's base URL without trailing slashes (and without `stripSuffix`, a path users often
 * paste although the client adds it itself). Throws a CredentialError naming the service when the
 * value is not an http(s) URL; `hint` says what to use instead.
 */
export function httpBaseUrl(value: string, service: string, hint: string, stripSuffix?: RegExp): string {
	const trimmed = value.trim().replace(/\/+$/, '');
	const baseUrl = stripSuffix ? trimmed.replace(stripSuffix, '') : trimmed;
	if (!/^https?:\/\/[^/\s]+/i.test(baseUrl)) {
		throw new CredentialError(`The ${service} credential's base URL "${value}" is not an http(s) URL. ${hint}`);
	}
	return baseUrl;
}

/** The value of a credential's host choice that means "use the Custom Base URL field". */
export const CUSTOM_HOST = 'custom';

export interface HostChoice {
	/** The documented hosts, the default first. */
	hosts: ReadonlyArray<{ name: string; value: string; description: string }>;
	/** What the host is used for, under the Host field. */
	hostDescription: string;
	customPlaceholder: string;
	customDescription: string;
}

/**
 * A credential's Host (`baseUrl`: a documented host, or `custom`) and Custom Base URL
 * (`customBaseUrl`, shown for `custom`), as every service's credential offers them. Read them back
 * with `chosenBaseUrl`.
 */
export function hostChoiceProperties(choice: HostChoice): INodeProperties[] {
	return [
		// eslint-disable-next-line n8n-nodes-base/node-param-default-missing -- the default is set below: the credential's first documented host
		{
			displayName: 'Host',
			name: 'baseUrl',
			type: 'options',
			options: [...choice.hosts, { name: 'Custom', value: CUSTOM_HOST, description: 'Your own URL, for example a proxy or a local emulator' }],
			default: choice.hosts[0].value,
			description: choice.hostDescription,
		},
		{
			displayName: 'Custom Base URL',
			name: 'customBaseUrl',
			type: 'string',
			default: '',
			placeholder: choice.customPlaceholder,
			description: choice.customDescription,
			displayOptions: { show: { baseUrl: [CUSTOM_HOST] } },
		},
	];
}

/**
 * The URL a Host choice stands for: `custom` → the Custom Base URL (empty: a CredentialError naming
 * `service`); a documented host, or a URL an older credential saved in `baseUrl` itself → itself;
 * nothing → `defaultUrl`.
 */
export function chosenBaseUrl(fields: { baseUrl?: unknown; customBaseUrl?: unknown }, service: string, defaultUrl: string): string {
	const choice = typeof fields.baseUrl === 'string' ? fields.baseUrl.trim() : '';
	if (choice.toLowerCase() !== CUSTOM_HOST) return choice || defaultUrl;
	const custom = typeof fields.customBaseUrl === 'string' ? fields.customBaseUrl.trim() : '';
	if (!custom) throw new CredentialError(`The ${service} credential's Host is Custom but its Custom Base URL is empty. Fill it in, or choose a documented host.`);
	return custom;
}
