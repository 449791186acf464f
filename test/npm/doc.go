// Package npm tests the @posagent/client npm package that `make npm`
// builds (packaging/npm/pack.sh): the tarball installs into a throwaway
// project, examples/typescript type-checks against it with tsc --strict,
// and a misspelled error code does not compile. TypeScript comes from this
// directory's package-lock.json (make deps runs npm ci here).
package npm
