# Texte der gehosteten Bestätigungsseite und der Seiten drumherum, auf Deutsch.
# Eine Marke überschreibt jeden davon je Sprache in ihrer Konfiguration ([brands.texts.de]).

page-title = Bestellung bestätigen
order-heading = Ihre Bestellung bei { $brand }
order-intro = Bitte bestätigen Sie diese Bestellung mit dem Code, den wir Ihnen per SMS geschickt haben. So schützen wir Sie vor Bestellungen in Ihrem Namen.
payee = Zahlungsempfänger
total = Gesamt
code-label = Code aus der SMS an
confirm-button = Bestellung bestätigen
attempts-left = Verbleibende Versuche
code-valid-for = Code gültig für
resend-button = Neuen Code senden
resend-wait = möglich in
cancel-button = Bestellung abbrechen
language = Sprache
imprint = Impressum
privacy = Datenschutz
logo-alt = { $brand }
notice-wrong = Der Code ist nicht richtig. { $attempts ->
    [one] Noch ein Versuch.
   *[other] Noch { $attempts } Versuche.
}
notice-invalid = Bitte geben Sie die Ziffern aus der SMS ein.
notice-resent = Ein neuer Code ist unterwegs. Der vorige gilt nicht mehr.
notice-too-soon = Ein neuer Code ist in { $seconds } Sekunden möglich.
notice-no-resends = Es können keine weiteren Codes gesendet werden.
notice-locked = Es wurden zu viele falsche Codes eingegeben. Bitte versuchen Sie es später erneut.
outcome-approved = Bestellung bestätigt. Vielen Dank!
outcome-canceled = Sie haben diese Bestellung abgebrochen.
outcome-expired = Der Code ist abgelaufen. Bitte bestellen Sie erneut.
outcome-failed = Zu viele falsche Codes. Die Bestellung wurde nicht bestätigt.
outcome-undeliverable = Wir konnten die SMS nicht senden. Die Bestellung wurde nicht bestätigt.
outcome-blocked = Diese Bestellung kann nicht online bestätigt werden. Bitte wenden Sie sich an den Shop.
review-right = Diese Entscheidung haben die Betrugsprüfungen des Shops automatisch getroffen. Sie können verlangen, dass ein Mensch sie überprüft { $contact ->
    [none] – über den Kundenservice des Shops.
   *[other] – unter { $contact }.
}
outcome-in-review = Ihre Bestellung wird geprüft. Der Shop meldet sich, sobald sie bestätigt ist; ein Code ist dafür vorerst nicht nötig.
back-to-shop = Zurück zum Shop
link-invalid = Dieser Bestätigungslink ist nicht gültig.
error-generic = Etwas ist schiefgegangen. Bitte versuchen Sie es noch einmal.
