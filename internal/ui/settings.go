//go:build !headless

package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// settings is the configuration screen.
type settings struct {
	u *UI

	content fyne.CanvasObject

	kind, reader, logLevel                      *widget.Select
	url, developerID, userID, location, product *widget.Entry
	apiKey                                      *widget.Entry
	apiKeyState                                 *widget.Label
	origins                                     *widget.Entry
	discoverBtn, saveBtn                        *widget.Button
	formMsg                                     *widget.Label

	// errs holds one inline message label per field.
	errs   map[string]*widget.Label
	paired *fyne.Container
	// form and left are laid out again after messages appear or vanish.
	form *widget.Form
	left *fyne.Container

	loaded SettingsModel
}

var gatewayKinds = []string{"paya", "paidyet", "sandbox"}
var logLevels = []string{"debug", "info", "warn", "error"}

func newSettings(u *UI) *settings {
	s := &settings{u: u, errs: map[string]*widget.Label{}}
	s.kind = widget.NewSelect(gatewayKinds, nil)
	s.url = widget.NewEntry()
	s.url.SetPlaceHolder("https://api.sandbox.payaconnect.com")
	s.developerID = widget.NewEntry()
	s.userID = widget.NewEntry()
	s.apiKey = widget.NewPasswordEntry()
	s.apiKey.SetPlaceHolder("type a new key to replace the stored one")
	s.apiKeyState = widget.NewLabel("")
	s.location = widget.NewEntry()
	s.discoverBtn = widget.NewButtonWithIcon("Find", theme.SearchIcon(), s.discover)
	s.product = widget.NewEntry()
	s.reader = widget.NewSelect([]string{"auto"}, nil)
	s.origins = widget.NewMultiLineEntry()
	s.origins.SetPlaceHolder("https://pos.example.com (one per line)")
	s.origins.SetMinRowsVisible(2)
	s.logLevel = widget.NewSelect(logLevels, nil)
	s.formMsg = widget.NewLabel("")
	s.formMsg.Wrapping = fyne.TextWrapWord
	s.formMsg.Hide()
	s.saveBtn = widget.NewButtonWithIcon("Save settings", theme.DocumentSaveIcon(), s.save)
	s.saveBtn.Importance = widget.HighImportance

	field := func(name string, w fyne.CanvasObject) fyne.CanvasObject {
		l := widget.NewLabel("")
		l.Importance = widget.DangerImportance
		l.Wrapping = fyne.TextWrapWord
		l.Hide()
		s.errs[name] = l
		return container.NewVBox(w, l)
	}
	s.form = widget.NewForm(
		widget.NewFormItem("Gateway", field(FieldGatewayKind, s.kind)),
		widget.NewFormItem("Gateway address", field(FieldGatewayURL, s.url)),
		widget.NewFormItem("Developer ID", field(FieldDeveloperID, s.developerID)),
		widget.NewFormItem("User ID", field(FieldUserID, s.userID)),
		widget.NewFormItem("API key", field(FieldAPIKey, container.NewBorder(nil, nil, nil, s.apiKeyState, s.apiKey))),
		widget.NewFormItem("Location ID", field(FieldLocationID, container.NewBorder(nil, nil, nil, s.discoverBtn, s.location))),
		widget.NewFormItem("Product transaction ID", field(FieldProductTransactionID, s.product)),
		widget.NewFormItem("Card reader", field(FieldReader, s.reader)),
		widget.NewFormItem("Allowed web pages", field(FieldAllowedOrigins, s.origins)),
		widget.NewFormItem("Log detail", field(FieldLogLevel, s.logLevel)),
	)
	s.paired = container.NewVBox()
	explain := widget.NewLabel("POS pages approved for good. Revoke one to make it ask again.")
	explain.Wrapping = fyne.TextWrapWord
	pairedCard := widget.NewCard("Paired web pages", "", container.NewVBox(explain, s.paired))
	s.left = container.NewVBox(s.formMsg, s.form, container.NewHBox(s.saveBtn))
	split := container.NewHSplit(container.NewVScroll(container.NewPadded(s.left)), container.NewVScroll(pairedCard))
	split.Offset = 0.68
	s.content = split
	return s
}

// load fills the form from the backend.
func (s *settings) load() {
	m := s.u.b.Settings()
	s.loaded = m
	s.kind.SetSelected(m.GatewayKind)
	s.url.SetText(m.GatewayURL)
	s.developerID.SetText(m.DeveloperID)
	s.userID.SetText(m.UserID)
	s.apiKey.SetText("")
	if m.APIKeySet {
		s.apiKeyState.SetText("stored")
	} else {
		s.apiKeyState.SetText("not set")
	}
	s.location.SetText(m.LocationID)
	s.product.SetText(m.ProductTransactionID)
	choices := m.ReaderChoices
	if len(choices) == 0 {
		choices = []string{"auto"}
	}
	if m.Reader != "" && !slices.Contains(choices, m.Reader) {
		choices = append([]string{m.Reader}, choices...)
	}
	s.reader.SetOptions(choices)
	s.reader.SetSelected(m.Reader)
	s.origins.SetText(strings.Join(m.AllowedOrigins, "\n"))
	s.logLevel.SetSelected(m.LogLevel)
	s.clearErrors()
	s.loadPaired()
}

// model reads the form.
func (s *settings) model() SettingsModel {
	m := s.loaded
	m.GatewayKind = s.kind.Selected
	m.GatewayURL = strings.TrimSpace(s.url.Text)
	m.DeveloperID = strings.TrimSpace(s.developerID.Text)
	m.UserID = strings.TrimSpace(s.userID.Text)
	m.APIKey = strings.TrimSpace(s.apiKey.Text)
	m.LocationID = strings.TrimSpace(s.location.Text)
	m.ProductTransactionID = strings.TrimSpace(s.product.Text)
	m.Reader = s.reader.Selected
	m.AllowedOrigins = nil
	for _, o := range strings.Split(s.origins.Text, "\n") {
		if o = strings.TrimSpace(o); o != "" {
			m.AllowedOrigins = append(m.AllowedOrigins, o)
		}
	}
	m.LogLevel = s.logLevel.Selected
	return m
}

func (s *settings) clearErrors() {
	for _, l := range s.errs {
		l.SetText("")
		l.Hide()
	}
	s.formMsg.Hide()
	s.relayout()
}

// relayout lays the form out again: showing or hiding a message changes
// the height of its row.
func (s *settings) relayout() {
	s.form.Refresh()
	s.left.Refresh()
}

// save stores the form; the backend validates and its problems are shown
// next to the fields they concern.
func (s *settings) save() {
	s.clearErrors()
	err := s.u.b.SaveSettings(s.model())
	if err == nil {
		s.load()
		s.formMsg.Importance = widget.SuccessImportance
		s.formMsg.SetText("Settings saved.")
		s.formMsg.Show()
		s.relayout()
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		s.formMsg.Importance = widget.DangerImportance
		s.formMsg.SetText(safeText("The settings were not saved: " + err.Error()))
		s.formMsg.Show()
		s.relayout()
		return
	}
	var general []string
	for _, p := range ve.Problems {
		l, ok := s.errs[p.Field]
		if !ok {
			general = append(general, p.Message)
			continue
		}
		if l.Text != "" {
			l.SetText(l.Text + "\n" + safeText(p.Message))
		} else {
			l.SetText(safeText(p.Message))
		}
		l.Show()
	}
	s.formMsg.Importance = widget.DangerImportance
	msg := "The settings were not saved. Fix the fields marked in red."
	if len(general) > 0 {
		msg += "\n" + strings.Join(general, "\n")
	}
	s.formMsg.SetText(safeText(msg))
	s.formMsg.Show()
	s.relayout()
}

// discover asks the gateway for the locations the credentials may use.
func (s *settings) discover() {
	s.discoverBtn.Disable()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		locs, err := s.u.b.DiscoverLocation(ctx)
		fyne.Do(func() { s.discovered(locs, err) })
	}()
}

func (s *settings) discovered(locs []Location, err error) {
	s.discoverBtn.Enable()
	l := s.errs[FieldLocationID]
	switch {
	case err != nil:
		l.SetText(safeText(fmt.Sprintf("Could not ask the gateway: %v. Save the credentials first.", err)))
		l.Show()
		s.relayout()
	case len(locs) == 0:
		l.SetText("The gateway lists no location for these credentials.")
		l.Show()
		s.relayout()
	case len(locs) == 1:
		s.location.SetText(locs[0].ID)
		l.Hide()
		if req := locs[0].SaleRequires; len(req) > 0 {
			// Not an error: what the gateway product's settings ask of
			// every sale, so that the store knows before a sale is refused.
			s.formMsg.Importance = widget.WarningImportance
			s.formMsg.SetText(safeText("The gateway product's settings require with every sale: " + strings.Join(req, ", ") +
				". The Sale details of the main window take them."))
			s.formMsg.Show()
		}
		s.relayout()
	default:
		names := make([]string, len(locs))
		for i, loc := range locs {
			names[i] = loc.Name + " (" + loc.ID + ")"
		}
		pick := widget.NewSelect(names, func(v string) {
			for i, n := range names {
				if n == v {
					s.location.SetText(locs[i].ID)
				}
			}
		})
		dialog.ShowCustom("Choose the location", "Done", pick, s.u.win)
	}
}

// loadPaired lists the paired origins with a Revoke button each.
func (s *settings) loadPaired() {
	s.paired.RemoveAll()
	origins := s.u.b.PairedOrigins()
	if len(origins) == 0 {
		s.paired.Add(widget.NewLabel("None."))
	}
	for _, o := range origins {
		s.paired.Add(container.NewBorder(nil, nil, nil,
			widget.NewButtonWithIcon("Revoke", theme.DeleteIcon(), func() { s.revoke(o) }),
			widget.NewLabel(o)))
	}
	s.paired.Refresh()
}

func (s *settings) revoke(origin string) {
	if err := s.u.b.RevokeOrigin(origin); err != nil {
		s.formMsg.Importance = widget.DangerImportance
		s.formMsg.SetText(safeText(fmt.Sprintf("Could not revoke %s: %v", origin, err)))
		s.formMsg.Show()
	}
	s.loadPaired()
}
