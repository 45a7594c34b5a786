# Texts of the hosted verification page and the pages around it, in English.
# A brand overrides any of them per locale in its configuration ([brands.texts.en]).

page-title = Confirm your order
order-heading = Your order with { $brand }
order-intro = Please confirm this order with the code we sent you by SMS. This protects you from orders placed in your name.
payee = Payee
total = Total
code-label = Code from the SMS sent to
confirm-button = Confirm order
attempts-left = Attempts left
code-valid-for = Code valid for
resend-button = Send a new code
resend-wait = possible in
cancel-button = Cancel order
language = Language
imprint = Imprint
privacy = Privacy notice
logo-alt = { $brand }
notice-wrong = That code is not right. { $attempts ->
    [one] One attempt left.
   *[other] { $attempts } attempts left.
}
notice-invalid = Please enter the digits from the SMS.
notice-resent = A new code is on its way. The previous one no longer works.
notice-too-soon = You can ask for a new code in { $seconds } seconds.
notice-no-resends = No more codes can be sent.
notice-locked = Too many wrong codes were entered. Please try again later.
outcome-approved = Order confirmed. Thank you!
outcome-canceled = You canceled this order.
outcome-expired = The code has expired. Please place the order again.
outcome-failed = Too many wrong codes. The order was not confirmed.
outcome-undeliverable = We could not send the SMS. The order was not confirmed.
outcome-blocked = This order cannot be confirmed online. Please contact the shop.
review-right = This decision was made automatically by the shop's fraud checks. You can ask for a person to review it { $contact ->
    [none] through the shop's customer service.
   *[other] at { $contact }.
}
outcome-in-review = Your order is being checked. The shop will let you know once it is confirmed; no code is needed for now.
back-to-shop = Back to the shop
link-invalid = This verification link is not valid.
error-generic = Something went wrong. Please try again.
