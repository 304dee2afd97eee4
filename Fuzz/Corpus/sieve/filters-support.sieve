# Runs for mail to the "support" inbox, after global.sieve.
require ["fileinto", "imap4flags", "vacation", "vnd.postroom"];

if header :contains "subject" ["invoice", "refund"] {
  fileinto "Billing";
  postroom_assign :team "Billing";
}

if header :contains "subject" "urgent" {
  addflag "\\Flagged";
  postroom_priority "high";
}

# Outside office hours, answer once a day per sender (never to automatic mail).
vacation :days 1 :subject "We received your message" "Thanks for writing. We answer within one working day.";
