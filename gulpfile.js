const { src, dest } = require('gulp');

// tsc compiles the TypeScript; the SVG icons that nodes and credentials reference as `file:…` must
// sit beside the compiled files in dist/.
function buildIcons() {
	return src(['nodes/**/*.svg', 'credentials/**/*.svg'], { base: '.' }).pipe(dest('dist'));
}

exports['build:icons'] = buildIcons;
