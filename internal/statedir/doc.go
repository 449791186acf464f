// Package statedir holds what every writer into the agent's state
// directory must do alike. Today that is one rule: a file root writes
// there belongs to the directory's owner (MatchOwner), because `sudo
// posagent pair` and `sudo posagent journal compact` work on the
// service's /var/lib/posagent, and a file left to root is one the service
// (user posagent) cannot open.
package statedir
