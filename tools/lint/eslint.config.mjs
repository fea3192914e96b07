// ESLint for `npm run lint` (run from the repository root with `--config tools/lint/eslint.config.mjs`;
// ESLint then takes the `files` patterns below relative to the root).
//
// The community-node rule sets of eslint-plugin-n8n-nodes-base, as n8n's nodes-starter applies them:
// `community` on package.json, `credentials` on credentials/**, `nodes` on nodes/**. The plugin's
// configs are eslintrc-style objects, so (as n8n's own scanner, @n8n/scan-community-package, does with
// ESLint 9) the plugin is registered once and each config's `rules` are spread over its files.
//
// This folder is its own npm package (see package.json here) because the plugin's preinstall script,
// `npx only-allow pnpm`, fails under npm: as a devDependency of the root it would break `npm ci`.
// `npm run lint` installs it with --ignore-scripts.
import tsParser from '@typescript-eslint/parser';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';

export default [
	{
		ignores: ['**/node_modules/**', '**/dist/**'],
	},
	{
		plugins: { 'n8n-nodes-base': n8nNodesBase },
	},
	{
		// @typescript-eslint/parser reads a .json file as one object literal, which is the AST the
		// package.json rules walk (ESLint's default parser cannot read JSON at all).
		files: ['package.json'],
		languageOptions: { parser: tsParser },
		rules: { ...n8nNodesBase.configs.community.rules },
	},
	{
		files: ['credentials/**/*.ts'],
		languageOptions: { parser: tsParser },
		rules: {
			...n8nNodesBase.configs.credentials.rules,
			// n8n's own credentials give a camelCase slug of n8n's docs site; a community credential's
			// `documentationUrl` is a full http(s) URL of the service's docs (which the same ruleset's
			// cred-class-field-documentation-url-not-http-url asks for). The plugin documents this rule
			// as "only applicable to nodes in the main repository", and n8n's scanner and `n8n-node lint`
			// turn it off for community packages too.
			'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
		},
	},
	{
		files: ['nodes/**/*.ts'],
		languageOptions: { parser: tsParser },
		rules: {
			...n8nNodesBase.configs.nodes.rules,
			// These two accept only the literal `['main']`, while n8n's verified-node scanner
			// (`node-connection-type-literal`) asks for `NodeConnectionTypes.Main`, which n8n's own
			// nodes and its nodes-starter have used since n8n-workflow exported it. The scanner is the newer rule.
			'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
			'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
		},
	},
];
