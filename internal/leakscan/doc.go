// Package leakscan finds card data where it must never be: logs, the
// journal file, websocket captures, gateway responses. It looks for clear
// PANs and tracks under the agent's own card-data policy (card.FindCardData:
// numbers split by spaces or dashes, glued to letters, in any script's
// digits), reporting the card numbers the tests, demo and chaos run use;
// the public test keys; and ciphertext-sized hex runs. Each finding names
// the file and line but never the secret itself.
package leakscan
