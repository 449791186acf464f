// Package archtest holds no code: its tests enforce the import rules of
// posagent's architecture, in the manner of tailscale's tstest/deptest and
// pkgdoc_test. They run `go list -deps -json` over the whole module for
// Linux, Windows and macOS, with and without the headless build tag, and
// fail with the import chain of every package that breaks a rule:
//
//   - internal/decrypt/dukpt (the only decryption code) is reached only by
//     itself, internal/gateway/sandbox/..., internal/reader/sim/... and the
//     composition roots cmd/posagent and internal/app/...;
//   - internal/card, internal/emv and internal/config import no other
//     package of the module;
//   - internal/ui/... reaches none of internal/reader, internal/gateway and
//     internal/decrypt;
//   - github.com/karalabe/hid is imported only by internal/reader/hid, and
//     go.bug.st/serial only by internal/reader/serial;
//   - the headless build of cmd/posagent links no fyne.io package;
//   - every package under cmd/ and internal/ has a package doc comment.
//
// A rule about packages that do not exist yet passes; it bites as soon as
// they do. A package that go list cannot load (a missing import, a module
// missing from go.sum) fails the tests, because its imports would be unseen.
package archtest
