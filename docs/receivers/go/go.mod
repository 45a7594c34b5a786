module orderguard.example/receiver

go 1.19
