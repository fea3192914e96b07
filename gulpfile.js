const { src, dest } = require('gulp');

// tsc compiles the TypeScript; what n8n reads beside the compiled files must be copied into dist/:
// the SVG icons that nodes and credentials reference as `file:…`, and each node's codex
// (`<Node>.node.json`: categories, search aliases, documentation links), which n8n-core's loader
// requires from beside `<Node>.node.js`.
function buildAssets() {
	return src(['nodes/**/*.svg', 'credentials/**/*.svg', 'nodes/**/*.json'], { base: '.' }).pipe(dest('dist'));
}

exports['build:icons'] = buildAssets;
