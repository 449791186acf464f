// Package localefix stops fyne from logging "Fyne error: Error parsing user
// locale C" at every start — every `posagent` command, and every start of
// the service in its journal — on the many systems whose locale is
// C.UTF-8 or POSIX. fyne's lang package reads the locale in its init and
// cannot parse "C".
//
// Go initialises packages in import-path order as far as dependencies
// allow, so this package (no imports beyond the standard library) runs
// before fyne.io/fyne/v2/lang, which waits for golang.org/x/text. It
// points the variable fyne reads at "en" for that moment; the ui package,
// initialised after fyne, calls Restore, so the agent and the programs it
// runs see the environment unchanged.
package localefix
