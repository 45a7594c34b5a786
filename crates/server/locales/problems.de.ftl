# German `title` and `detail` of the API's problem details, by problem type (the part after
# `urn:orderguard:problem:`). English is the API's own language; `{ $detail }` is the English detail
# where it names something technical (a parser message, a field).

problem-validation-error = Die Anfrage ist ungültig: { $detail }
    .title = Die Anfrage ist ungültig
problem-customer-unknown = Die Anfrage ist ungültig: customer.id ist dem Identitätsdienst der Marke nicht bekannt
    .title = Die Anfrage ist ungültig
problem-not-found = Die angefragte Ressource gibt es für diese Marke nicht
    .title = Nicht gefunden
problem-no-route = Diesen Endpunkt gibt es nicht; siehe /openapi.json
    .title = Nicht gefunden
problem-unauthorized = Senden Sie den API-Schlüssel der Marke als `Authorization: Bearer <Schlüssel>`; ein widerrufener oder unbekannter Schlüssel gilt nicht
    .title = Anmeldung erforderlich
problem-internal-error = Bei uns ist etwas schiefgegangen; die Anfrage kann wiederholt werden
    .title = Interner Fehler
problem-not-ready = Die Datenbank nimmt gerade keine Schreibzugriffe an
    .title = Nicht bereit
problem-idempotency-key-reused = Dieser Idempotency-Key wurde schon mit einem anderen Anfragetext verwendet; verwenden Sie für eine neue Anfrage einen neuen Schlüssel
    .title = Idempotency-Key wiederverwendet
problem-customer-phone-invalid = Die Mobilnummer, die der Identitätsdienst für diesen Kunden führt, kann keinen Code empfangen ({ $detail })
    .title = Die Mobilnummer des Kunden kann keinen Code empfangen
problem-customer-phone-unverified = Der Identitätsdienst führt für diesen Kunden keine bestätigte Mobilnummer
    .title = Der Kunde hat keine bestätigte Mobilnummer
problem-identity-unavailable = Die Nummer des Kunden konnte nicht nachgeschlagen werden ({ $detail })
    .title = Der Identitätsdienst ist nicht erreichbar
problem-concurrent-change = Die Verifizierung wurde von parallelen Anfragen geändert; bitte wiederholen
    .title = Gleichzeitige Änderung
problem-verification-not-pending = Die Verifizierung ist nicht mehr offen (Status: { $status })
    .title = Die Verifizierung ist nicht mehr offen
problem-verification-expired = Der Code ist abgelaufen; starten Sie eine neue Verifizierung
    .title = Der Code ist abgelaufen
problem-resend-limit-reached = Für diese Verifizierung können keine weiteren Codes gesendet werden
    .title = Keine weiteren Codes
problem-resend-too-soon = Ein neuer Code ist in { $seconds } Sekunden möglich
    .title = Zu früh für einen neuen Code
problem-payload-too-large = Der Anfragetext ist zu groß ({ $detail })
    .title = Anfragetext zu groß
problem-malformed-body = Der Anfragetext konnte nicht gelesen werden ({ $detail })
    .title = Der Anfragetext ist nicht lesbar
problem-malformed-json = Der Anfragetext ist kein gültiges JSON ({ $detail })
    .title = Ungültiges JSON
problem-unsupported-media-type = Senden Sie den Anfragetext als `Content-Type: application/json`
    .title = JSON erwartet
