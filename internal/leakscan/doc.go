// Package leakscan finds card data where it must never be: logs, the
// journal file, websocket captures, gateway responses. It looks for clear
// PANs (Luhn-valid 13–19 digit runs with a card brand's prefix, standing
// alone or inside hex), clear track data (%B…^ and ;digits=…), the public
// test keys and ciphertext-sized hex runs, and reports each finding with the
// file and line but never the secret itself.
package leakscan
