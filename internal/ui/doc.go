// Package ui is the cashier's desktop window and tray icon, built with Fyne.
//
// It consumes a small status/command interface it declares itself (Backend)
// with plain types owned by this package, so it never imports the reader,
// gateway, decryption, engine or bridge packages: the composition root
// (internal/app) adapts the real agent to Backend. internal/archtest enforces
// that rule transitively.
//
// The screens are: the register (reader and gateway status, amount keypad,
// Sale/Auth/Refund/Void, live prompt, result and receipt), the history (a
// page at a time, "Show older sales" for the next) with search and
// follow-ups, and the settings (gateway profile, API key kept
// write-only, readers, allowed and paired origins, log level). AskPairing
// lets the window answer the bridge's pairing requests.
//
// Only masked card numbers (first six / last four at most) ever reach a
// widget: the Backend hands over masked values only, and the window masks
// again anything that looks like a card number before showing it.
//
// Files with Fyne code are built with !headless; headless.go keeps the same
// exported API for a build with -tags headless, which links no Fyne package
// and reports that the window is not available.
package ui
