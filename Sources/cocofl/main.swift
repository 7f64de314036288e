import NN
print("cocofl")
